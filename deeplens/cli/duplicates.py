"""``deeplens duplicates``: pairs of indexed items that are near-duplicates of each other."""

from __future__ import annotations

import argparse

from deeplens.cli.common import load_settings, print_json, print_table
from deeplens.errors import DeepLensError
from deeplens.pipeline.services import Services
from deeplens.search import SearchEngine, SearchOptions


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("duplicates", help="list near-duplicate pairs of product photos and frames")
    parser.add_argument("--threshold", type=float, default=0.95, help="lowest cosine similarity of a pair (default 0.95)")
    parser.add_argument("--kind", choices=["products", "frames", "all"], default="all", help="what to compare")
    parser.add_argument("--model", default=None, help="model whose vectors to compare (default DEEPLENS_MODEL)")
    parser.add_argument("--limit", type=int, default=100, help="how many pairs")
    parser.add_argument("--offset", type=int, default=0, help="skip this many pairs")
    parser.add_argument("--json", action="store_true", help="print a JSON page {items, total, limit, offset}")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    services = Services.from_settings(load_settings())
    try:
        page = SearchEngine(services).duplicates(
            args.threshold, SearchOptions(kind=args.kind, model=args.model, limit=args.limit, offset=args.offset)
        )
    except DeepLensError as exc:
        raise SystemExit(f"deeplens duplicates: {exc}") from exc
    finally:
        services.close()
    if args.json:
        print_json(page)
        return 0
    print_table(["score", "a", "a key", "b", "b key"],
                [[f"{p.score:.3f}", f"{p.a.kind}:{p.a.id}", p.a.key, f"{p.b.kind}:{p.b.id}", p.b.key] for p in page.items])
    print(f"{page.total} pair(s) at or above {args.threshold}")
    return 0
