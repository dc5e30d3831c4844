"""``deeplens search --image P``: indexed items that look like a photo."""

from __future__ import annotations

import argparse
from pathlib import Path

from deeplens.cli.common import load_settings, print_json, print_table
from deeplens.errors import BadInput
from deeplens.pipeline.services import Services
from deeplens.search import search_by_image


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("search", help="search indexed products or frames by an example image")
    parser.add_argument("--image", type=Path, required=True, help="query image file")
    parser.add_argument("--kind", choices=["products", "frames"], default="products", help="what to search")
    parser.add_argument("-k", type=int, default=10, help="how many results")
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.image.is_file():
        raise SystemExit(f"deeplens search: no file {args.image}")
    settings = load_settings()
    services = Services.from_settings(settings)
    try:
        hits = search_by_image(services, settings.tenant, args.image.read_bytes(), kind=args.kind, k=args.k)
    except BadInput as exc:
        raise SystemExit(f"deeplens search: {exc}") from exc
    finally:
        services.close()
    if args.json:
        print_json(hits)
    else:
        print_table(["rank", "score", "kind", "product/video", "t", "key"],
                    [[i + 1, f"{h.score:.3f}", h.kind, h.product or h.video, "" if h.t is None else f"{h.t:.2f}", h.key]
                     for i, h in enumerate(hits)])
    return 0
