"""``deeplens demo``: generate a catalog and videos, run the whole pipeline, show what it found."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from deeplens.cli.appearances import print_appearances
from deeplens.cli.common import load_settings
from deeplens.cli.failures import print_failures
from deeplens.cli.ingest import ingest_folder
from deeplens.cli.serve import serve
from deeplens.datagen import generate_dataset
from deeplens.results import Results
from deeplens.runtime import LocalRuntime


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="generate demo data, find the products in the videos, print the result")
    parser.add_argument("--preset", default="demo", help="dataset preset (demo, bench, tiny)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed")
    parser.add_argument("--data", type=Path, default=None, help="where to write the dataset (default DEEPLENS_HOME/demo-data)")
    parser.add_argument("--serve", action=argparse.BooleanOptionalAction, default=None,
                        help="serve the results afterwards (default: when run in a terminal)")
    parser.add_argument("--port", type=int, default=8000, help="results service port")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    data = args.data or settings.home / "demo-data"
    started = time.monotonic()
    print(f"Generating the {args.preset!r} dataset (seed {args.seed}) in {data} …", file=sys.stderr)
    truth = generate_dataset(data, args.preset, seed=args.seed)
    print(f"  {len(truth.products)} products, {len(truth.videos)} videos", file=sys.stderr)
    with LocalRuntime(settings) as runtime:
        ingest_folder(runtime, data, wait=True)
        results = Results(runtime.services.db, settings.tenant)
        found = results.all_appearances()
        failures = results.failures(limit=1000).items
        print(f"\nFound {len(found)} appearance(s) in {time.monotonic() - started:.1f}s:\n")
        print_appearances(found)
        expected = sum(len(v.appearances) for v in truth.videos.values())
        print(f"\nThe generator placed {expected} appearance(s); truth is in {data / 'truth.json'}.")
        if failures:
            print("\nFailures:")
            print_failures(failures)
        url = f"http://127.0.0.1:{args.port}/"
        serve_now = sys.stdin.isatty() if args.serve is None else args.serve
        if serve_now:
            serve(runtime, "127.0.0.1", args.port)
        else:
            print(f"\nResults service: {url} (API docs {url}docs) — start it with `deeplens serve`.")
    return 0
