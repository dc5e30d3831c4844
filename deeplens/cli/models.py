"""``deeplens models``: the models search can use, with dimension, text support and what each has indexed."""

from __future__ import annotations

import argparse

from deeplens.cli.common import load_settings, print_json, print_table
from deeplens.pipeline.services import Services
from deeplens.search.models import list_models


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("models", help="list models: dimension, text search, items indexed")
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    services = Services.from_settings(load_settings())
    try:
        models = list_models(services)
    finally:
        services.close()
    if args.json:
        print_json(models)
        return 0
    print_table(
        ["model", "dim", "text search", "products", "frames", "class-scored", "weights", "default"],
        [[m.name, m.dim or "?", m.text_search or "no", m.indexed.get("product_image", 0), m.indexed.get("frame", 0),
          m.class_scored, "here" if m.available else "missing", "*" if m.default else ""] for m in models],
    )
    return 0
