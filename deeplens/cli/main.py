"""Entry point of the ``deeplens`` command."""

from __future__ import annotations

import argparse
import sys

from deeplens import __version__
from deeplens.cli import appearances, collect, demo, dlq, duplicates, failures, ingest, models, reindex, search, serve, status
from deeplens.cli.common import setup_logging

VERBS = (demo, serve, ingest, collect, appearances, search, duplicates, models, reindex, failures, status, dlq)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every verb registered."""
    parser = argparse.ArgumentParser(
        prog="deeplens",
        description="Find catalog products in videos; search images. Configuration: DEEPLENS_* environment variables.",
    )
    parser.add_argument("--version", action="version", version=f"deeplens {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:
        verb.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one verb; returns the process exit code."""
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
