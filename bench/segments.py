"""One long video spread over workers: the same video by 1 worker and by more, in segments, with the same appearances.

    python bench/segments.py                                  # a 120 s video at 960x540, segments of 20 s, 1 and 4 workers
    python bench/segments.py --duration 600 --hd --workers 1 4   # the issue's case: 10 min of 1080p30 H.264

It generates one long video with the ``bench`` preset's scenes (``--hd``: at 1920×1080, 30
fps, encoded as H.264 by ``bench/transcode.py``) and a 10-product catalog, then runs the CLI
on embedded defaults in a fresh home for each configuration: the whole video scanned in one
piece by one worker (``video_segment_seconds=0``), and in segments of ``--segment`` seconds
by each of ``--workers``. It prints wall and CPU seconds, the speed-up over one worker on
segments, and whether each run's appearances (video, product, start, end, score, box) are
exactly those of the one-worker segmented run. The speed-up is bounded by the cores: on 2,
no more than 2×. Numbers only, never pass/fail.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import found_appearances, run_cli_measured
from transcode import transcode_dataset

from deeplens.datagen import PRESETS, generate_dataset


def long_video(root: Path, duration: float, hd: bool, seed: int) -> Path:
    """A dataset of one ``duration``-second video (and its catalog) under ``root``, made once."""
    name = f"long-{duration:.0f}s-{'hd' if hd else 'sd'}-seed{seed}"
    target = root / name
    if (target / "truth.json").exists():
        return target
    preset = dataclasses.replace(PRESETS["hd" if hd else "bench"], name=name, n_videos=1, n_products=10, duration_s=duration,
                                 products_per_video=(3, 6))
    source = root / f"{name}-raw" if hd else target
    print(f"generating {duration:.0f} s of video in {source} …", file=sys.stderr, flush=True)
    generate_dataset(source, preset, seed=seed)
    if hd:
        print(f"encoding it as H.264 in {target} …", file=sys.stderr, flush=True)
        transcode_dataset(source, target, crf=23)
    return target


def run(dataset: Path, workers: int, segment: float) -> dict:
    """One CLI run in a fresh home: costs and the appearances."""
    home = Path(tempfile.mkdtemp(prefix="deeplens-segments-"))
    settings = {"workers": str(workers), "video_segment_seconds": str(segment)}
    cost = run_cli_measured(home, "ingest", str(dataset), "--wait", settings=settings)
    found = sorted((a["video"], a["product"], a["start"], a["end"], a["score"], tuple(a["box"]))
                   for a in found_appearances(home, settings))
    return {"wall_s": cost.wall_s, "cpu_s": cost.cpu_s + cost.db_cpu_s, "peak_rss_mb": cost.peak_rss_mb, "appearances": found}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("bench-data"))
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of video")
    parser.add_argument("--hd", action="store_true", help="1920x1080, 30 fps, H.264 (else 960x540, 15 fps, MPEG-4)")
    parser.add_argument("--segment", type=float, default=20.0, help="video_segment_seconds of the segmented runs")
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    dataset = long_video(args.root, args.duration, args.hd, args.seed)
    configurations = [("one piece", 1, 0.0), *[(f"{args.segment:.0f} s segments", w, args.segment) for w in args.workers]]
    results = []
    for label, workers, segment in configurations:
        print(f"running {label} with {workers} worker(s) …", file=sys.stderr, flush=True)
        results.append((label, workers, run(dataset, workers, segment)))
    reference = next(r for label, w, r in results if w == args.workers[0] and label != "one piece")
    print(f"segments benchmark: {args.duration:.0f} s of {'1080p30 H.264' if args.hd else '960x540 MPEG-4'}, "
          f"{os.cpu_count()} CPUs (shared machine: other work may run)")
    print(f"{'run':18s} {'workers':>7s} {'wall s':>8s} {'CPU s':>8s} {'video s/s':>9s} {'speed-up':>8s} {'peak MB':>8s} "
          f"{'appearances':>11s} same")
    for label, workers, r in results:
        same = "—" if r is reference else ("yes" if r["appearances"] == reference["appearances"] else "no")
        print(f"{label:18s} {workers:7d} {r['wall_s']:8.1f} {r['cpu_s']:8.1f} {args.duration / r['wall_s']:9.2f} "
              f"{reference['wall_s'] / r['wall_s']:8.2f} {r['peak_rss_mb']:8.0f} {len(r['appearances']):11d} {same}")


if __name__ == "__main__":
    main()
