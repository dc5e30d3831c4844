"""Product-in-video accuracy and speed of the real pipeline, beside a plain-embedding baseline.

    python bench/accuracy.py DATASET [--preset bench] [--seed 0]

DATASET is a folder made by the generator (``products/``, ``videos/``, ``truth.json``); it
is generated first if it does not exist. The pipeline runs as a user runs it — the
``deeplens`` CLI on embedded defaults, in a fresh ``DEEPLENS_HOME`` — and its results are
compared with the truth. The baseline is what a user of a plain embedding search would
build: embed frames sampled at 2 fps with the same model, cosine against every product
photo, threshold (the best threshold for the baseline on this very dataset, which flatters
it). Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import cv2
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics import presence, segments_per_truth, union_iou

from deeplens.datagen import GroundTruth, generate_dataset
from deeplens.matching.overlaps import box_iou

BASELINE_FPS = 2.0
GAP_S = 1.0
RECALL_KS = (1, 3, 5)


def _cli_command(args: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-m", "deeplens.cli.main", *args]


def _cli_env(home: Path, settings: dict[str, str] | None) -> dict[str, str]:
    """The caller's environment without its DEEPLENS_* settings, with ``settings`` and ``home`` applied."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPLENS_") and k != "DATABASE_URL"}
    env.update({f"DEEPLENS_{k.upper()}": v for k, v in (settings or {}).items()})
    env["DEEPLENS_HOME"] = str(home)
    return env


def run_cli(home: Path, *args: str, settings: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The CLI on embedded defaults in ``home``: the caller's DEEPLENS_* settings are dropped, ``settings`` applied."""
    return subprocess.run(_cli_command(args), env=_cli_env(home, settings), capture_output=True, text=True, check=True)


@dataclass(frozen=True)
class CliRun:
    """What one CLI run cost: wall seconds, the CLI process's CPU seconds and peak resident
    memory (MB), and the CPU seconds its embedded database server spent meanwhile."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    db_cpu_s: float = 0.0


def database_cpu_s(pgdata: Path) -> tuple[int, float] | None:
    """The postmaster pid of the embedded server running on ``pgdata`` and the CPU seconds its
    process tree has spent so far, or ``None`` while no server runs there. Backends that have
    exited count once the postmaster has reaped them (its children's times)."""
    try:
        server = psutil.Process(int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0]))
        own = server.cpu_times()
        total = own.user + own.system + own.children_user + own.children_system
        for child in server.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                times = child.cpu_times()
                total += times.user + times.system
        return server.pid, total
    except (OSError, ValueError, psutil.Error):
        return None


class _DatabaseCpuSampler(threading.Thread):
    """Reads :func:`database_cpu_s` every ``interval`` seconds while it is entered. The server is a
    daemon (pg_ctl detaches it), so the CLI's rusage leaves it out, and it stops with the
    CLI, so it is read while it runs: what it spends after the last reading is missed."""

    def __init__(self, pgdata: Path, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self._pgdata, self._interval = pgdata, interval
        self._stop_event = threading.Event()
        self._most: dict[int, float] = {}  # per postmaster: a run may start the server more than once

    def run(self) -> None:
        while not self._stop_event.wait(self._interval):
            reading = database_cpu_s(self._pgdata)
            if reading is not None:
                # The most, not the latest: a backend that has exited but is not reaped yet
                # counts nowhere for a moment, so a reading can dip below an earlier one.
                pid, cpu = reading
                self._most[pid] = max(cpu, self._most.get(pid, 0.0))

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_event.set()
        self.join()

    @property
    def cpu_s(self) -> float:
        """The CPU seconds every server seen has spent, at the most read."""
        return sum(self._most.values())


def run_cli_measured(home: Path, *args: str, settings: dict[str, str] | None = None) -> CliRun:
    """Like :func:`run_cli`, measuring that one process (``wait4`` gives its own rusage, not all
    children's) and, by sampling, the embedded database server it starts."""
    from deeplens.config import Settings

    with tempfile.TemporaryFile() as err:
        with _DatabaseCpuSampler(Settings(home=home).pgdata) as sampler:
            started = time.monotonic()
            process = subprocess.Popen(_cli_command(args), env=_cli_env(home, settings), stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.monotonic() - started
        db_cpu = sampler.cpu_s
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            err.seek(0)
            raise subprocess.CalledProcessError(process.returncode, process.args, stderr=err.read().decode(errors="replace"))
    return CliRun(wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime, peak_rss_mb=usage.ru_maxrss / 1024, db_cpu_s=db_cpu)


def video_seconds(truth: GroundTruth) -> float:
    return sum(v.duration for v in truth.videos.values())


def score_appearances(truth: GroundTruth, found: list[dict]) -> dict:
    """Presence, timing, segmentation, boxes and false-positive causes of found appearances."""
    truth_pairs = {(vid, a.product) for vid, v in truth.videos.items() for a in v.appearances}
    found_pairs = {(a["video"], a["product"]) for a in found}
    result = presence(truth_pairs, found_pairs)
    by_pair: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for a in found:
        by_pair[(a["video"], a["product"])].append(a)
    ious, segments, box_ious = [], [], []
    for vid, v in truth.videos.items():
        for a in v.appearances:
            pieces = [(f["start"], f["end"]) for f in by_pair.get((vid, a.product), [])]
            ious.append(union_iou((a.start, a.end), pieces))
            segments.append(segments_per_truth((a.start, a.end), pieces))
    for a in found:
        video = truth.videos.get(a["video"])
        if video is None or a.get("box") is None or a.get("best_t") is None:
            continue
        index = video.frame_at(a["best_t"])
        boxes = [t.boxes[index] for t in video.appearances if t.product == a["product"] and index in t.boxes]
        if boxes:
            box_ious.append(box_iou(a["box"], boxes[0]))
    causes = {"distractor": 0, "lookalike": 0, "other": 0}
    for vid, sku in result.false_pairs:
        video = truth.videos[vid]
        shown = {t.product for t in video.appearances}
        # A product outside the truth's catalog (bench/catalog_scale.py adds some) is related to nothing shown.
        source = truth.products[sku].lookalike_of if sku in truth.products else None
        related = {p for p in shown if truth.products[p].lookalike_of == sku or source == p}
        if video.distractor_appearances:
            causes["distractor" if not related else "lookalike"] += 1
        else:
            causes["lookalike" if related else "other"] += 1
    found_split = [s for s in segments if s > 0]
    return {
        "precision": result.precision,
        "recall": result.recall,
        "f1": result.f1,
        "false_pairs": [list(p) for p in result.false_pairs],
        "missed_pairs": [list(p) for p in result.missed_pairs],
        "temporal_iou": float(np.mean(ious)) if ious else float("nan"),
        "segments_per_appearance": float(np.mean(found_split)) if found_split else float("nan"),
        "box_iou": float(np.mean(box_ious)) if box_ious else float("nan"),
        "false_positive_causes": causes,
    }


def candidate_recall(home: Path, truth: GroundTruth, overrides: dict[str, str]) -> dict[str, float]:
    """Share of (keyframe, visible product) pairs whose product is among the matcher's top-k candidates."""
    from deeplens.config import Settings
    from deeplens.db.vectors import get_embedding
    from deeplens.pipeline.candidates import frame_candidates
    from deeplens.pipeline.services import Services
    from deeplens.vision.local_features import from_bytes

    settings = Settings(home=home, **overrides)
    services = Services.from_settings(settings)
    hits = {k: 0 for k in RECALL_KS}
    total = 0
    try:
        with services.db.pool.connection() as conn:
            frames = conn.execute(
                "SELECT f.id, f.video_id, f.t, lf.data FROM frames f JOIN local_features lf"
                " ON lf.tenant_id = f.tenant_id AND lf.item_kind = 'frame' AND lf.item_id = f.id WHERE f.tenant_id = %s",
                (settings.tenant,),
            ).fetchall()
            index = services.catalog_indexes.get(conn, settings.tenant)
            for frame in frames:
                visible = truth.visible(frame["video_id"], frame["t"])
                if not visible:
                    continue
                query = get_embedding(conn, settings.tenant, "frame", frame["id"], settings.model)
                features = from_bytes(bytes(frame["data"]))
                ranked = list(dict.fromkeys(
                    c.sku for c in frame_candidates(services, conn, settings.tenant, settings.model, features, query, index)
                ))
                for sku in visible:
                    total += 1
                    for k in RECALL_KS:
                        hits[k] += sku in ranked[:k]
    finally:
        services.close()
    return {f"recall@{k}": hits[k] / total if total else float("nan") for k in RECALL_KS}


def found_appearances(home: Path, settings: dict[str, str]) -> list[dict]:
    """The appearances the pipeline in ``home`` reports (``deeplens appearances --json``), each with its best frame's time."""
    found = json.loads(run_cli(home, "appearances", "--json", settings=settings).stdout)
    times = best_frame_times(home, [a["best_frame_id"] for a in found])
    for a in found:
        a["best_t"] = times.get(a["best_frame_id"])
    return found


def score_home(home: Path, truth: GroundTruth, settings: dict[str, str]) -> dict:
    """Appearances and candidate recall of the pipeline that ran in ``home``, scored against ``truth``."""
    found = found_appearances(home, settings)
    scores = score_appearances(truth, found)
    scores.update(candidate_recall(home, truth, settings))
    scores.update(appearances=len(found), home=str(home))
    return scores


def linked_folder(target: Path, part: str, members: list[Path]) -> Path:
    """``target/part/<name>`` linked to each of ``members``: an ingestable folder that copies nothing."""
    (target / part).mkdir(parents=True)
    for member in members:
        (target / part / member.name).symlink_to(member.resolve(), target_is_directory=member.is_dir())
    return target


def _together(dataset: Path, work: Path) -> list[Path]:
    return [dataset]


def _videos_first(dataset: Path, work: Path) -> list[Path]:
    return [
        linked_folder(work / "upload-videos", "videos", sorted((dataset / "videos").iterdir())),
        linked_folder(work / "upload-catalog", "products", sorted((dataset / "products").iterdir())),
    ]


def _catalog_halves(dataset: Path, work: Path) -> list[Path]:
    products = sorted((dataset / "products").iterdir())
    return [
        linked_folder(work / "upload-catalog-a", "products", products[0::2]),
        linked_folder(work / "upload-videos", "videos", sorted((dataset / "videos").iterdir())),
        linked_folder(work / "upload-catalog-b", "products", products[1::2]),
    ]


ORDERS: dict[str, Callable[[Path, Path], list[Path]]] = {
    "together": _together,
    "videos-first": _videos_first,
    "catalog-halves": _catalog_halves,
}
"""Each order's folders, uploaded one after another."""


def run_pipeline(dataset: Path, truth: GroundTruth, settings: dict[str, str], *, videos_first: bool = False) -> dict:
    """Ingest ``dataset`` with the CLI in a fresh home (all at once, or its videos before its catalog) and score it."""
    home = Path(tempfile.mkdtemp(prefix="deeplens-bench-"))
    # Videos first, every photo must find its appearances from its own side (the product
    # direction of the match step), since every keyframe is indexed before it arrives.
    folders = ORDERS["videos-first" if videos_first else "together"](dataset, home)
    runs = [run_cli_measured(home, "ingest", str(folder), "--wait", settings=settings) for folder in folders]
    scores = score_home(home, truth, settings)
    wall = sum(run.wall_s for run in runs)
    # CPU seconds as well as wall time: on a shared machine (steal time) wall time alone misleads.
    cpu, db_cpu = sum(run.cpu_s for run in runs), sum(run.db_cpu_s for run in runs)
    scores.update(wall_s=wall, cpu_s=cpu, db_cpu_s=db_cpu, realtime_factor=video_seconds(truth) / wall,
                  cpu_per_video_s=(cpu + db_cpu) / video_seconds(truth), peak_rss_mb=max(run.peak_rss_mb for run in runs))
    return scores


def best_frame_times(home: Path, frame_ids: list[int]) -> dict[int, float]:
    """Video time (s) of each of ``frame_ids`` in the pipeline database of ``home``."""
    from deeplens.config import Settings
    from deeplens.db import Database

    db = Database.from_settings(Settings(home=home))
    try:
        with db.pool.connection() as conn:
            rows = conn.execute("SELECT id, t FROM frames WHERE id = ANY(%s)", (frame_ids,)).fetchall()
    finally:
        db.close()
    return {r["id"]: r["t"] for r in rows}


def run_baseline(dataset: Path, truth: GroundTruth) -> dict:
    """Whole-frame embedding cosine against every product photo, thresholded."""
    from inference.local_embedder import LocalEmbedder

    started = time.monotonic()
    predictor = LocalEmbedder("mobilenet_v2").load()
    photos = sorted((dataset / "products").glob("*/*"))
    photo_skus = [p.parent.name for p in photos]
    photo_vectors = predictor.embed_images([cv2.imread(str(p)) for p in photos])
    samples: list[tuple[str, float, np.ndarray]] = []
    for video_id in sorted(truth.videos):
        capture = cv2.VideoCapture(str(dataset / "videos" / f"{video_id}.mp4"))
        fps = capture.get(cv2.CAP_PROP_FPS) or 15.0
        step = max(1, round(fps / BASELINE_FPS))
        frames, times, index = [], [], 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % step == 0:
                frames.append(frame)
                times.append(index / fps)
            index += 1
        capture.release()
        for t, vector in zip(times, predictor.embed_images(frames)):
            samples.append((video_id, t, vector))
    wall = time.monotonic() - started
    skus = sorted(set(photo_skus))
    sims = np.stack([v for _, _, v in samples]) @ photo_vectors.T
    per_sku = np.stack([sims[:, [i for i, s in enumerate(photo_skus) if s == sku]].max(axis=1) for sku in skus], axis=1)
    hits = {k: 0 for k in RECALL_KS}
    total = 0
    for row, (video_id, t, _) in enumerate(samples):
        ranked = [skus[i] for i in np.argsort(-per_sku[row])]
        for sku in truth.visible(video_id, t):
            total += 1
            for k in RECALL_KS:
                hits[k] += sku in ranked[:k]
    best = None
    for threshold in np.arange(0.3, 0.95, 0.01):
        found = _threshold_appearances(samples, per_sku, skus, threshold)
        scores = score_appearances(truth, found)
        if best is None or scores["f1"] > best["f1"]:
            best = dict(scores, threshold=float(threshold))
    best.update({f"recall@{k}": hits[k] / total if total else float("nan") for k in RECALL_KS})
    best.update(wall_s=wall, realtime_factor=video_seconds(truth) / wall, box_iou=float("nan"))
    return best


def _threshold_appearances(samples, per_sku, skus, threshold) -> list[dict]:
    found = []
    runs: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row, (video_id, t, _) in enumerate(samples):
        for col in np.flatnonzero(per_sku[row] >= threshold):
            runs[(video_id, skus[col])].append(t)
    for (video_id, sku), times in runs.items():
        start = prev = times[0]
        for t in times[1:] + [None]:
            if t is None or t - prev > GAP_S:
                found.append({"video": video_id, "product": sku, "start": start, "end": prev, "box": None, "best_t": None})
                start = t
            if t is not None:
                prev = t
    return found


ACCURACY_ROWS = (
    ("candidate recall@1", "recall@1", "{:.3f}"),
    ("candidate recall@3", "recall@3", "{:.3f}"),
    ("candidate recall@5", "recall@5", "{:.3f}"),
    ("presence precision", "precision", "{:.3f}"),
    ("presence recall", "recall", "{:.3f}"),
    ("presence F1", "f1", "{:.3f}"),
    ("mean temporal IoU", "temporal_iou", "{:.3f}"),
    ("segments per true appearance", "segments_per_appearance", "{:.2f}"),
    ("box IoU at best frame", "box_iou", "{:.3f}"),
)
"""Table rows (label, key, format) of what :func:`score_home` measures."""


def print_table(pipeline: dict, baseline: dict) -> None:
    rows = [
        *ACCURACY_ROWS,
        ("wall time (s)", "wall_s", "{:.1f}"),
        ("CPU time, CLI process (s)", "cpu_s", "{:.1f}"),
        ("CPU time, database server (s)", "db_cpu_s", "{:.1f}"),
        ("CPU s per video s (both)", "cpu_per_video_s", "{:.3f}"),
        ("video s per wall s", "realtime_factor", "{:.2f}"),
    ]
    print(f"{'metric':32s} {'pipeline':>10s} {'baseline':>10s}")
    for label, key, fmt in rows:
        print(f"{label:32s} {fmt.format(pipeline.get(key, float('nan'))):>10s} {fmt.format(baseline.get(key, float('nan'))):>10s}")
    print(f"{'peak memory, CLI process (MB)':32s} {pipeline['peak_rss_mb']:>10.0f}")
    print(f"false positives by cause: pipeline {pipeline['false_positive_causes']}, baseline {baseline['false_positive_causes']}")
    print(f"baseline threshold (best F1 on this dataset): {baseline['threshold']:.2f}")
    if pipeline["false_pairs"] or pipeline["missed_pairs"]:
        print(f"pipeline false pairs: {pipeline['false_pairs']}; missed pairs: {pipeline['missed_pairs']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--preset", default="bench")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--videos-first", action="store_true",
                        help="upload the videos, wait, then the catalog (the product direction finds every appearance)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a pipeline setting for this run, e.g. --set keyframe_max_interval=1.5 (DEEPLENS_NAME)")
    args = parser.parse_args(argv)
    settings = dict(item.split("=", 1) for item in args.set)
    if not (args.dataset / "truth.json").exists():
        print(f"generating the {args.preset!r} dataset (seed {args.seed}) in {args.dataset} …", file=sys.stderr)
        generate_dataset(args.dataset, args.preset, seed=args.seed)
    truth = GroundTruth.from_json(args.dataset / "truth.json")
    print(f"dataset {args.dataset}: {len(truth.products)} products, {len(truth.videos)} videos, "
          f"{video_seconds(truth):.0f} s of video, preset {truth.preset!r}, seed {truth.seed}", file=sys.stderr)
    pipeline = run_pipeline(args.dataset, truth, settings, videos_first=args.videos_first)
    baseline = run_baseline(args.dataset, truth) if not args.no_baseline else {"false_positive_causes": {}, "threshold": float("nan")}
    print_table(pipeline, baseline)
    print(json.dumps({"dataset": str(args.dataset), "preset": truth.preset, "seed": truth.seed, "settings": settings,
                      "order": "videos first" if args.videos_first else "together",
                      "pipeline": pipeline, "baseline": baseline}, default=float))


if __name__ == "__main__":
    main()
