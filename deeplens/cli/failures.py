"""``deeplens failures``: uploads that could not be processed, and why."""

from __future__ import annotations

import argparse

from deeplens.cli.common import load_settings, print_json, print_table
from deeplens.db import Database
from deeplens.results import Failure, Results


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("failures", help="list uploads that failed, with the reason")
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.set_defaults(run=run)


def print_failures(items: list[Failure]) -> None:
    """The failures table."""
    print_table(["key", "step", "reason", "message"], [[f.key, f.step, f.reason, f.message] for f in items])


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    db = Database.from_settings(settings)
    try:
        items = Results(db, settings.tenant).failures(limit=10_000).items
    finally:
        db.close()
    if args.json:
        print_json(items)
    elif items:
        print_failures(items)
    else:
        print("No failures.")
    return 0
