"""Throughput of each pipeline step, measured inside the real in-process pipeline.

    python bench/steps.py [--preset demo] [--seed 0] [--workers 1]

Generates a dataset, ingests it on embedded defaults (a fresh DEEPLENS_HOME) and times
every step call on the broker: items per second of step time (keyframes: frames decoded
into keyframes; features: images embedded and described; match: frames or photos
matched; evidence: images rendered), plus the wall time of the whole run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from deeplens.cli.ingest import ingest_folder
from deeplens.config import Settings
from deeplens.datagen import generate_dataset
from deeplens.runtime import LocalRuntime
from eventing import types
from eventing.events import Event


def items_of(step: str, event: Event, outputs: list[Event]) -> int:
    """How many units of work one step call did."""
    if step == "keyframes":
        return sum(len(o.data.get("frames", [])) for o in outputs)
    if step == "features":
        return len(event.data.get("frames", [])) or 1
    if step == "match":
        return len(event.data.get("item_ids", []))
    if step == "evidence":
        return sum(1 for o in outputs if o.type == types.MATCH_EVIDENCED)
    return 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="1 gives clean per-step timings")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="deeplens-steps-"))
    truth = generate_dataset(root / "data", args.preset, seed=args.seed)
    settings = Settings(home=root / "home", workers=args.workers)
    busy: dict[str, float] = defaultdict(float)
    done: dict[str, int] = defaultdict(int)
    with LocalRuntime(settings) as runtime:
        run = runtime.runner.run

        def timed(step: str, event: Event) -> list[Event]:
            started = time.perf_counter()
            outputs = run(step, event)
            busy[step] += time.perf_counter() - started
            done[step] += items_of(step, event, outputs)
            return outputs

        runtime.broker.dispatch = timed
        runtime.services.embedder  # load the model before the clock starts, as a running service has
        started = time.monotonic()
        ingest_folder(runtime, root / "data", wait=True)
        wall = time.monotonic() - started
    seconds = sum(v.duration for v in truth.videos.values())
    print(f"{args.preset} seed {args.seed}: {len(truth.products)} products, {len(truth.videos)} videos, "
          f"{seconds:.0f} s of video; wall {wall:.1f} s ({seconds / wall:.2f} s of video per s), {args.workers} worker(s)")
    print(f"{'step':10s} {'items':>7s} {'busy s':>8s} {'items/s':>8s}")
    for step in ("ingest", "keyframes", "features", "match", "evidence"):
        rate = done[step] / busy[step] if busy[step] else float("nan")
        print(f"{step:10s} {done[step]:7d} {busy[step]:8.2f} {rate:8.1f}")


if __name__ == "__main__":
    main()
