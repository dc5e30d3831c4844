"""Throughput and CPU of each pipeline step, measured inside the real in-process pipeline.

    python bench/steps.py [--preset demo] [--seed 0] [--workers 1] [--dataset DIR]

Ingests a dataset (generated, or an existing generator folder such as the one
``bench/accuracy.py`` made) on embedded defaults with a fresh DEEPLENS_HOME, and times
every step call on the broker: items per second of step time (keyframes: frames decoded
into keyframes; features: images embedded and described; match: frames or photos
matched; evidence: images rendered), the CPU seconds each step spent and its share of
the process's CPU, plus the wall time of the whole run.

CPU is the calling thread's time. It is the whole cost of a step when each worker gets
one thread (``--workers`` equal to the cores, e.g. 2 here), since OpenCV, BLAS, ONNX
Runtime and video decoding then run in the worker's own thread; with fewer workers their
extra threads are missed, and the script says so.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from deeplens.cli.ingest import ingest_folder
from deeplens.config import Settings
from deeplens.datagen import GroundTruth, generate_dataset
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
    parser.add_argument("--workers", type=int, default=1, help="1 gives clean per-step wall timings")
    parser.add_argument("--dataset", type=Path, help="an existing generator folder (truth.json) instead of a new one")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="deeplens-steps-"))
    if args.dataset is not None:
        data, truth = args.dataset, GroundTruth.from_json(args.dataset / "truth.json")
    else:
        data = root / "data"
        truth = generate_dataset(data, args.preset, seed=args.seed)
    settings = Settings(home=root / "home", workers=args.workers)
    busy: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)
    done: dict[str, int] = defaultdict(int)
    with LocalRuntime(settings) as runtime:
        run = runtime.runner.run

        def timed(step: str, event: Event) -> list[Event]:
            started, thread_started = time.perf_counter(), time.thread_time()
            outputs = run(step, event)
            busy[step] += time.perf_counter() - started
            cpu[step] += time.thread_time() - thread_started
            done[step] += items_of(step, event, outputs)
            return outputs

        runtime.broker.dispatch = timed
        _ = runtime.services.embedder  # load the model before the clock starts, as a running service has
        started, cpu_started = time.monotonic(), time.process_time()
        ingest_folder(runtime, data, wait=True)
        wall, process_cpu = time.monotonic() - started, time.process_time() - cpu_started
    seconds = sum(v.duration for v in truth.videos.values())
    print(f"{truth.preset} seed {truth.seed}: {len(truth.products)} products, {len(truth.videos)} videos, "
          f"{seconds:.0f} s of video; wall {wall:.1f} s ({seconds / wall:.2f} s of video per s), "
          f"CPU {process_cpu:.1f} s, {args.workers} worker(s)")
    if settings.threads_per_worker > 1:
        print(f"(each worker has {settings.threads_per_worker} threads: 'cpu s' misses its libraries' extra threads)")
    print(f"{'step':10s} {'items':>7s} {'busy s':>8s} {'items/s':>8s} {'cpu s':>8s} {'cpu %':>6s}")
    for step in ("ingest", "keyframes", "features", "match", "evidence"):
        rate = done[step] / busy[step] if busy[step] else float("nan")
        share = 100 * cpu[step] / process_cpu if process_cpu else float("nan")
        print(f"{step:10s} {done[step]:7d} {busy[step]:8.2f} {rate:8.1f} {cpu[step]:8.2f} {share:6.1f}")


if __name__ == "__main__":
    main()
