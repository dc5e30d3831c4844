"""``deeplens index build``: save the tenant's catalog index as it stands, for every match process to load.

A match process starts from the newest saved index (memory-mapped) and adds only the
photos that changed after it, instead of building the index from every photo in the
database. Run it after a large catalog upload (``deeplens ingest`` runs it for you when
its upload changed the catalog), or on a schedule (the chart's CronJob).
"""

from __future__ import annotations

import argparse

from deeplens.cli.common import load_settings
from deeplens.matching.snapshots import build_snapshot
from deeplens.pipeline.services import Services


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("index", help="save the catalog index for match processes to load (deeplens index build)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = actions.add_parser("build", help="build and save the catalog index of DEEPLENS_TENANT as it stands")
    build.add_argument("--if-stale", type=int, metavar="PHOTOS", default=0,
                       help="only when at least this many photos changed since the newest saved index (default 0: always)")
    build.set_defaults(run=run_build)


def run_build(args: argparse.Namespace) -> int:
    settings = load_settings()
    services = Services.from_settings(settings)
    try:
        record = build_snapshot(services.db, services.store, settings.tenant, min_changed=args.if_stale)
    finally:
        services.close()
    if record is None:
        print(f"tenant {settings.tenant}: fewer than {args.if_stale} photos changed since the newest saved index; nothing built.")
        return 0
    print(f"tenant {settings.tenant}: catalog index at generation {record.generation} saved "
          f"({record.photos} photos, {record.descriptors} descriptors) -> {record.object_key}")
    return 0
