"""``deeplens search``: indexed items that look like a photo, like an indexed item, or match a text."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from deeplens.cli.common import load_settings, print_json, print_table
from deeplens.errors import DeepLensError
from deeplens.pipeline.services import Services
from deeplens.search import SearchEngine, SearchHit, SearchOptions


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("search", help="search indexed products and frames by an image, an indexed item, or text")
    query = parser.add_mutually_exclusive_group(required=True)
    query.add_argument("--image", type=Path, help="query image file")
    query.add_argument("--text", help="what the images show, in words")
    query.add_argument("--similar", metavar="ID", help="more like this indexed item: ID (a product photo) or KIND:ID "
                       "(product_image:12, frame:40)")
    parser.add_argument("--kind", choices=["products", "frames", "all"], default=None,
                        help="what to search among (default: products for --image, all otherwise)")
    parser.add_argument("--model", default=None, help="model whose vectors to search (default DEEPLENS_MODEL; see `deeplens models`)")
    parser.add_argument("-k", "--limit", dest="k", type=int, default=10, help="how many results")
    parser.add_argument("--offset", type=int, default=0, help="skip this many results (pagination)")
    parser.add_argument("--video", help="only keyframes of this video")
    parser.add_argument("--product", help="only photos of this product (sku)")
    parser.add_argument("--since", type=datetime.fromisoformat, help="only items added since (YYYY-MM-DD[THH:MM], UTC)")
    parser.add_argument("--min-score", type=float, default=None, help="lowest score listed")
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.set_defaults(run=run)


def parse_item(value: str) -> tuple[str, int]:
    """``12`` → a product photo, ``frame:40`` / ``product_image:12`` → that kind."""
    kind, _, number = value.rpartition(":")
    kind = kind or "product_image"
    if kind not in ("product_image", "frame") or not number.isdigit():
        raise SystemExit(f"deeplens search: --similar takes ID or KIND:ID with KIND product_image or frame, got {value!r}")
    return kind, int(number)


def run(args: argparse.Namespace) -> int:
    if args.image is not None and not args.image.is_file():
        raise SystemExit(f"deeplens search: no file {args.image}")
    settings = load_settings()
    kind = args.kind or ("products" if args.image is not None else "all")
    opts = SearchOptions(kind=kind, model=args.model, video=args.video, product=args.product, since=args.since,
                         min_score=args.min_score, limit=args.k, offset=args.offset)
    services = Services.from_settings(settings)
    try:
        engine = SearchEngine(services)
        if args.image is not None:
            hits = engine.by_image(args.image.read_bytes(), opts)
        elif args.text is not None:
            hits = engine.by_text(args.text, opts)
        else:
            hits = engine.similar(*parse_item(args.similar), opts)  # type: ignore[arg-type]
    except DeepLensError as exc:
        raise SystemExit(f"deeplens search: {exc}") from exc
    finally:
        services.close()
    if args.json:
        print_json(hits)
    else:
        print_hits(hits, offset=args.offset)
    return 0


def print_hits(hits: list[SearchHit], *, offset: int = 0) -> None:
    """A ranked table of hits."""
    print_table(["rank", "score", "kind", "id", "product/video", "t", "key", "classes"],
                [[offset + i + 1, f"{h.score:.3f}", h.kind, h.id, h.product or h.video, "" if h.t is None else f"{h.t:.2f}",
                  h.key, ", ".join(h.classes or [])]
                 for i, h in enumerate(hits)])
