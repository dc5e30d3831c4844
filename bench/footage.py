"""Speed and accuracy on footage as users upload it (1080p30 H.264) beside the default benchmark set, in one run.

    python bench/footage.py                      # the hd set (seed 0) and the default bench set (seed 0)
    python bench/footage.py --hd-seeds 0 7       # more hd seeds (7 is one no setting was tuned on)
    python bench/footage.py --sets hd            # the hd set only

Sets (generated once under ``--root``, then reused):

- ``hd``: the ``hd`` preset (the benchmark's scenes at 1920×1080, 30 fps, six 12 s clips),
  encoded with libx264 as cameras and platforms write it (crf 23, B-frames, an I-frame
  every 250 frames and at scene cuts): ``bench/transcode.py``;
- ``default``: the ``bench`` preset as the generator writes it (960×540, 15 fps, MPEG-4).

Each set runs through the CLI on embedded defaults (``bench/accuracy.py``'s
``run_pipeline``: a fresh home, ``deeplens ingest --wait``) and is scored against its truth.
Beside it, in the same run and on the same files, the physical limit: decoding every frame
with OpenCV (``grab()``, one decoder thread per video, as a worker runs it), as CPU seconds
and as seconds of video per second on this machine's cores. Prints one table, one column
per set. Numbers only, never pass/fail.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import run_pipeline, video_seconds
from transcode import transcode_dataset

from deeplens.datagen import GroundTruth, generate_dataset

HD_CRF = 23


def prepare(root: Path, name: str, preset: str, seed: int) -> Path:
    """The set's dataset folder under ``root``, generated from ``preset`` (and for ``hd`` encoded as H.264) if missing."""
    target = root / f"{name}-{preset}-seed{seed}"
    if (target / "truth.json").exists():
        return target
    if name == "default":
        print(f"generating the {preset} preset (seed {seed}) in {target} …", file=sys.stderr, flush=True)
        generate_dataset(target, preset, seed=seed)
        return target
    source = root / f"raw-{preset}-seed{seed}"
    if not (source / "truth.json").exists():
        print(f"generating the {preset} preset (seed {seed}) in {source} …", file=sys.stderr, flush=True)
        generate_dataset(source, preset, seed=seed)
    print(f"encoding {source} as H.264 (crf {HD_CRF}) in {target} …", file=sys.stderr, flush=True)
    transcode_dataset(source, target, crf=HD_CRF)
    return target


def decode_limit(videos: list[Path]) -> tuple[float, int]:
    """CPU seconds to decode every frame of ``videos`` with OpenCV (one thread each), and the frames decoded."""
    started, frames = time.process_time(), 0
    for video in videos:
        capture = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
        while capture.grab():
            frames += 1
        capture.release()
    return time.process_time() - started, frames


def measure(dataset: Path, cores: int) -> dict:
    """Pipeline scores and costs for ``dataset``, with the decode limit measured on its files."""
    truth = GroundTruth.from_json(dataset / "truth.json")
    seconds = video_seconds(truth)
    decode_cpu, frames = decode_limit(sorted((dataset / "videos").glob("*.mp4")))
    scores = run_pipeline(dataset, truth, {})
    scores.update(video_s=seconds, frames=frames, decode_cpu_s=decode_cpu,
                  decode_realtime=seconds * cores / decode_cpu if decode_cpu else float("nan"))
    scores["pipeline_vs_limit"] = scores["realtime_factor"] / scores["decode_realtime"]
    return scores


ROWS = (
    ("seconds of video", "video_s", "{:.0f}"),
    ("frames", "frames", "{:d}"),
    ("presence precision", "precision", "{:.3f}"),
    ("presence recall", "recall", "{:.3f}"),
    ("mean temporal IoU", "temporal_iou", "{:.3f}"),
    ("box IoU at best frame", "box_iou", "{:.3f}"),
    ("wall time (s)", "wall_s", "{:.1f}"),
    ("CPU, CLI + database (s)", "cpu_total_s", "{:.1f}"),
    ("CPU s per video s", "cpu_per_video_s", "{:.3f}"),
    ("video s per wall s (× real time)", "realtime_factor", "{:.2f}"),
    ("decode limit: CPU s", "decode_cpu_s", "{:.2f}"),
    ("decode limit: × real time, all cores", "decode_realtime", "{:.2f}"),
    ("pipeline / decode limit", "pipeline_vs_limit", "{:.2f}"),
    ("peak memory, CLI process (MB)", "peak_rss_mb", "{:.0f}"),
)


def print_table(columns: dict[str, dict]) -> None:
    """One row per measure, one column per set."""
    print(f"{'':38s}" + "".join(f"{name:>16s}" for name in columns))
    for label, key, fmt in ROWS:
        cells = "".join(f"{fmt.format(scores[key]) if key in scores else 'n/a':>16s}" for scores in columns.values())
        print(f"{label:38s}{cells}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("bench-data"), help="where the sets are generated and kept")
    parser.add_argument("--sets", nargs="+", choices=("hd", "default"), default=["hd", "default"])
    parser.add_argument("--hd-seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--default-seed", type=int, default=0)
    parser.add_argument("--hd-preset", default="hd", help="the generator preset of the H.264 set (a smaller one for a smoke run)")
    parser.add_argument("--default-preset", default="bench", help="the generator preset of the default set")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    columns: dict[str, dict] = {}
    for name in args.sets:
        for seed in args.hd_seeds if name == "hd" else [args.default_seed]:
            dataset = prepare(args.root, name, args.hd_preset if name == "hd" else args.default_preset, seed)
            print(f"running {dataset} …", file=sys.stderr, flush=True)
            scores = measure(dataset, cores)
            scores["cpu_total_s"] = scores["cpu_s"] + scores["db_cpu_s"]
            columns[f"{name} s{seed}"] = scores
    print(f"footage benchmark, {cores} CPUs (shared machine: other work may run)")
    print_table(columns)


if __name__ == "__main__":
    main()
