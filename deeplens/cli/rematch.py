"""``deeplens rematch``: apply the matching and appearance settings as they are now to every
video matched before.

A keyframe is decided once, with the settings of the match step at the time; changing
``DEEPLENS_MATCH_THRESHOLD`` (or any ``DEEPLENS_MATCH_*`` / ``DEEPLENS_APPEARANCE_*``)
changes what later uploads get. This asks the match step to decide every keyframe and roll
up every appearance again. On a laptop it runs here, with this command's settings; in the
cluster (``DEEPLENS_BROKER_URL``) the request goes through the Broker, and the match
function applies the settings it runs with.
"""

from __future__ import annotations

import argparse

from deeplens.cli.common import load_settings
from deeplens.cli.ingest import wait_with_progress
from deeplens.errors import Conflict
from deeplens.rematch import request_rematch
from deeplens.results import Results
from deeplens.runtime import LocalRuntime


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("rematch", help="decide every keyframe and appearance again with the current settings")
    parser.add_argument("--appearances-only", action="store_true",
                        help="roll up the appearances only, without deciding keyframes again: enough after changing "
                        "DEEPLENS_APPEARANCE_* or raising the threshold, and much faster")
    parser.add_argument("--no-wait", action="store_true", help="only request it; do not process here")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    processed_here = not (settings.broker_url or args.no_wait)
    with LocalRuntime(settings) as runtime:
        results = Results(runtime.services.db, settings.tenant)
        before = results.appearances(limit=1).total if processed_here else 0
        try:
            request_rematch(settings, runtime.queue, settings.tenant, decide=not args.appearances_only)
        except Conflict as exc:
            raise SystemExit(f"deeplens rematch: {exc}") from exc
        if settings.broker_url:
            print(f"Rematch requested through {settings.broker_url}; the match function applies the settings it runs with.")
        elif args.no_wait:
            print("Rematch requested; `deeplens serve` or the next command that processes uploads carries it out.")
        else:
            wait_with_progress(runtime, None)
            print(f"Rematched with the current settings: {before} appearance(s) before, {results.appearances(limit=1).total} now. "
                  "See `deeplens appearances`.")
    return 0
