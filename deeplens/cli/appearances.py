"""``deeplens appearances``: which products are in which videos, when."""

from __future__ import annotations

import argparse

from deeplens.cli.common import load_settings, print_json, print_table, seconds
from deeplens.db import Database
from deeplens.results import Appearance, Results


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("appearances", help="list where products appear in videos")
    parser.add_argument("--video", help="only this video id")
    parser.add_argument("--product", help="only this sku")
    parser.add_argument("--min-score", type=float, default=0.0, help="only appearances scoring at least this (0-1)")
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.set_defaults(run=run)


def print_appearances(items: list[Appearance]) -> None:
    """The appearances table users read."""
    print_table(
        ["video", "product", "start", "end", "score", "frames", "box (x,y,w,h)"],
        [[a.video, a.product, seconds(a.start), seconds(a.end), f"{a.score:.2f}", a.frames, ",".join(map(str, a.box))] for a in items],
    )


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    db = Database.from_settings(settings)
    try:
        items = Results(db, settings.tenant).all_appearances(video=args.video, product=args.product, min_score=args.min_score)
    finally:
        db.close()
    if args.json:
        print_json(items)
    elif items:
        print_appearances(items)
    else:
        print("No appearances found.")
    return 0
