"""Whether upload order changes what the pipeline reports.

    python bench/upload_orders.py DATASET [--orders together videos-first catalog-halves loaded] [--set NAME=VALUE]

DATASET is a generator folder (e.g. one ``bench/accuracy.py`` made). Each order uploads it
with the CLI into a fresh home, one ``deeplens ingest --wait`` after another:

- ``together``: the catalog and the videos in one upload;
- ``videos-first``: the videos, then the catalog (the product direction finds everything);
- ``catalog-halves``: every other product, then the videos, then the rest of the catalog
  (both directions at once, with a catalog that changes between them);
- ``loaded``: in one upload, as ``together``, but with 4 workers and a busy loop on every
  core beside it, so steps and commits interleave and finish in other orders.

Prints each order's accuracy and cost, and whether every order reported exactly the same
appearances as the first (video, product, start, end, box and score), listing any that
differ. A user should get the same answer however their uploads happened to arrive.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import ORDERS, found_appearances, run_cli_measured, score_appearances

from deeplens.datagen import GroundTruth


def appearance_keys(found: list[dict]) -> set[tuple]:
    """What a user reads of each appearance, comparable across runs (scores to 6 decimals)."""
    return {(a["video"], a["product"], a["start"], a["end"], tuple(a["box"]), round(a["score"], 6)) for a in found}


LOADED = "loaded"
"""The order that uploads as ``together`` does, on a loaded machine with more workers."""
LOADED_WORKERS = "4"


@contextmanager
def busy_cores() -> Iterator[None]:
    """A busy loop on every core for as long as the block runs (another job on the machine)."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    try:
        yield
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


def run_order(dataset: Path, order: str, settings: dict[str, str]) -> tuple[dict, set[tuple]]:
    """Upload ``dataset`` in ``order`` into a fresh home; its scores and appearance keys."""
    truth = GroundTruth.from_json(dataset / "truth.json")
    home = Path(tempfile.mkdtemp(prefix=f"deeplens-{order}-"))
    if order == LOADED:
        loaded = {**settings, "DEEPLENS_WORKERS": LOADED_WORKERS}
        with busy_cores():
            runs = [run_cli_measured(home, "ingest", str(dataset), "--wait", settings=loaded)]
    else:
        runs = [run_cli_measured(home, "ingest", str(folder), "--wait", settings=settings) for folder in ORDERS[order](dataset, home)]
    found = found_appearances(home, settings)
    scores = score_appearances(truth, found)
    scores.update(home=str(home), cpu_s=sum(r.cpu_s for r in runs), wall_s=sum(r.wall_s for r in runs),
                  uploads=[{"wall_s": r.wall_s, "cpu_s": r.cpu_s} for r in runs])
    return scores, appearance_keys(found)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--orders", nargs="+", choices=[*ORDERS, LOADED], default=[*ORDERS, LOADED])
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a pipeline setting for every run, e.g. --set match_threshold=0.5 (DEEPLENS_NAME)")
    args = parser.parse_args(argv)
    if not (args.dataset / "truth.json").exists():
        parser.error(f"{args.dataset} has no truth.json: make it with bench/accuracy.py {args.dataset} first")
    settings = dict(item.split("=", 1) for item in args.set)
    results: dict[str, dict] = {}
    keys: dict[str, set[tuple]] = {}
    for order in args.orders:
        print(f"uploading {args.dataset} {order} …", file=sys.stderr)
        results[order], keys[order] = run_order(args.dataset, order, settings)
    first = args.orders[0]
    print(f"{'order':16s} {'P':>6s} {'R':>6s} {'tIoU':>7s} {'boxIoU':>7s} {'wall s':>7s} {'CPU s':>7s}  same as {first}")
    for order in args.orders:
        r = results[order]
        differ = keys[order] ^ keys[first]
        r["same_as_first"] = not differ
        r["differences"] = sorted([("only " + (order if k in keys[order] else first), *k) for k in differ], key=str)
        print(f"{order:16s} {r['precision']:6.3f} {r['recall']:6.3f} {r['temporal_iou']:7.3f} {r['box_iou']:7.3f} "
              f"{r['wall_s']:7.1f} {r['cpu_s']:7.1f}  {'yes' if not differ else f'NO ({len(differ)} differ)'}")
        for difference in r["differences"]:
            print(f"    {difference}")
    print(json.dumps({"dataset": str(args.dataset), "settings": settings, "orders": results}, default=float))


if __name__ == "__main__":
    main()
