"""``deeplens index build``: save catalog indexes for every match process to load.

A match process starts from the newest saved index of a tenant (memory-mapped) and adds
only the photos that changed after it, instead of building the index from every photo in
the database. ``deeplens ingest --wait`` saves one when its upload changed the catalog;
in the cluster a CronJob runs ``deeplens index build --all-tenants --if-stale N``.
"""

from __future__ import annotations

import argparse

from deeplens.cli.common import load_settings
from deeplens.db.catalog_snapshots import tenants_with_catalogs
from deeplens.matching.snapshots import build_snapshot
from deeplens.pipeline.services import Services


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("index", help="save catalog indexes for match processes to load (deeplens index build)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = actions.add_parser("build", help="build and save the catalog index of DEEPLENS_TENANT (or of every tenant)")
    build.add_argument("--all-tenants", action="store_true", help="every tenant with product photos, not only DEEPLENS_TENANT")
    build.add_argument("--if-stale", type=int, metavar="PHOTOS", default=1,
                       help="only where at least this many photos changed since the newest saved index (default 1)")
    build.set_defaults(run=run_build)


def run_build(args: argparse.Namespace) -> int:
    if args.if_stale < 1:
        raise SystemExit("deeplens index build: --if-stale must be at least 1")
    settings = load_settings()
    services = Services.from_settings(settings)
    try:
        if args.all_tenants:
            with services.db.pool.connection() as conn:
                tenants = tenants_with_catalogs(conn)
        else:
            tenants = [settings.tenant]
        for tenant in tenants:
            record = build_snapshot(services.db, services.store, tenant, min_changed=args.if_stale)
            if record is None:
                print(f"{tenant}: fewer than {args.if_stale} photos changed since its saved index; left as it is")
            else:
                print(f"{tenant}: catalog index at generation {record.generation} "
                      f"({record.photos} photos, {record.descriptors} descriptors) in {record.object_key}")
    finally:
        services.close()
    return 0
