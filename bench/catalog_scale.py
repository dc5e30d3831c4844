"""How the matcher scales with catalog size: the accuracy dataset's videos against ever larger catalogs.

    python bench/catalog_scale.py DATASET [--extra 0 200 1000] [--extra-seed 1]

DATASET is a generator folder, such as the one ``bench/accuracy.py`` made. For each
number in ``--extra``, that many more products (generated with the same preset and
``--extra-seed``, named ``XSKU-…``, look-alikes of one another in the preset's share)
join the dataset's catalog. None of them is shown in any video, so every one a video is
said to show is a false positive. Each size runs as a user runs it, in a fresh
``DEEPLENS_HOME``: ``deeplens ingest`` of the catalog (timed: catalog onboarding), then
``deeplens ingest`` of the videos (timed: what a video costs once the catalog is
indexed), then the same accuracy figures as ``bench/accuracy.py``. The catalog index is
also readied in a fresh process as a match process's cold start does (from the snapshot
the catalog's ingest saved) and queried with every keyframe, to time its start and each
vote and to measure its memory apart from the rest of the match step; and built once more
from the database alone, as a process with no snapshot would. Prints one JSON line per size, then a table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import ACCURACY_ROWS, linked_folder, run_cli_measured, score_home, video_seconds

from deeplens.config import Settings
from deeplens.datagen import PRESETS, GroundTruth, generate_catalog

EXTRA_PREFIX = "XSKU"


def write_extra_products(folder: Path, count: int, preset: str, seed: int) -> list[str]:
    """``count`` products that no video shows, in ``folder/<sku>/``; their SKUs in order."""
    if count == 0:
        return []
    base = PRESETS[preset]
    spec = dataclasses.replace(
        base, n_products=count, lookalikes=round(count * base.lookalikes / base.n_products), distractors=0, distractors_per_video=(0, 0)
    )
    return sorted(generate_catalog(folder, spec, seed, sku_prefix=EXTRA_PREFIX), key=lambda sku: int(sku.split("-")[1]))


def _rss_mb() -> float:
    """Resident memory now (MiB)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    """The most resident memory this process has held (MiB). Not ``ru_maxrss``: a spawned
    process's starts at what its parent held when it forked."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024


def index_profile(home: Path, settings: dict[str, str], *, from_snapshot: bool) -> dict[str, float]:
    """Ready the catalog index as a match process's cold start does, then vote with every stored keyframe, in one thread.

    ``from_snapshot``: from the snapshot ``deeplens ingest`` saved (memory-mapped), plus what
    changed since; else built from every photo in the database, as a process with no
    snapshot does. Runs in a fresh process (see :func:`run_size`), so the growth of its
    resident memory is the index's own; it is measured again after the votes, which touch
    the pages of a memory-mapped index.
    """
    from deeplens.caches.catalog_indexes import CatalogIndexCache
    from deeplens.db import Database
    from deeplens.db.catalog_snapshots import catalog_changes
    from deeplens.matching.catalog_index import CatalogIndex
    from deeplens.matching.snapshots import catalog_photo
    from deeplens.matching.vocabulary import load_vocabulary
    from deeplens.native_threads import cap_native_threads
    from deeplens.storage.factory import open_store
    from deeplens.vision.local_features import from_bytes

    config = Settings(home=home, **settings)
    cap_native_threads(1)
    db = Database.from_settings(config)
    try:
        with db.pool.connection() as conn:
            rss, started = _rss_mb(), time.perf_counter()
            if from_snapshot:
                index = CatalogIndexCache(open_store(config), home / "catalog-indexes").get(conn, config.tenant)
            else:
                index = CatalogIndex.build(map(catalog_photo, catalog_changes(conn, config.tenant, 0, load_vocabulary().name).photos))
            ready_s, ready_mb = time.perf_counter() - started, _rss_mb() - rss
            rows = conn.execute(
                "SELECT data FROM local_features WHERE tenant_id = %s AND item_kind = 'frame'", (config.tenant,)
            ).fetchall()
    finally:
        db.close()
    latencies = []
    for row in rows:
        frame = from_bytes(bytes(row["data"]))
        started = time.perf_counter()
        index.vote(frame)
        latencies.append(1000 * (time.perf_counter() - started))
    return {
        "photos": index.size,
        "descriptors": index.descriptors,
        "ready_s": ready_s,
        "ready_mb": ready_mb,
        "voted_mb": _rss_mb() - rss,
        "peak_mb": _peak_rss_mb() - rss,
        "vote_ms_p50": float(np.percentile(latencies, 50)),
        "vote_ms_p95": float(np.percentile(latencies, 95)),
    }


def run_size(dataset: Path, truth: GroundTruth, extras: list[Path], work: Path, settings: dict[str, str]) -> dict:
    """Ingest the catalog with ``extras``, then the videos, in a fresh home; time and score it."""
    catalog = linked_folder(work / f"catalog-{len(extras)}", "products", sorted((dataset / "products").iterdir()) + extras)
    videos = linked_folder(work / f"videos-{len(extras)}", "videos", sorted((dataset / "videos").iterdir()))
    home = work / f"home-{len(extras)}"
    onboarding = run_cli_measured(home, "ingest", str(catalog), "--wait", settings=settings)
    ingest = run_cli_measured(home, "ingest", str(videos), "--wait", settings=settings)
    result = {"extra_products": len(extras), "products": len(truth.products) + len(extras)}
    for from_snapshot in (True, False):
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            profile = pool.submit(index_profile, home, settings, from_snapshot=from_snapshot).result()
        if from_snapshot:
            result.update(photos=profile["photos"], descriptors=profile["descriptors"], index_ready_s=profile["ready_s"],
                          index_mb=profile["voted_mb"], vote_ms_p50=profile["vote_ms_p50"], vote_ms_p95=profile["vote_ms_p95"])
        else:
            result.update(index_build_s=profile["ready_s"], index_build_peak_mb=profile["peak_mb"])
    result.update(
        catalog_wall_s=onboarding.wall_s,
        catalog_cpu_s=onboarding.cpu_s,
        photos_per_s=result["photos"] / onboarding.wall_s,
        video_wall_s=ingest.wall_s,
        video_cpu_s=ingest.cpu_s,
        realtime_factor=video_seconds(truth) / ingest.wall_s,
        peak_rss_mb=max(onboarding.peak_rss_mb, ingest.peak_rss_mb),
    )
    result.update(score_home(home, truth, settings))
    return result


ROWS = (
    ("catalog products", "products", "{:d}"),
    ("catalog photos", "photos", "{:d}"),
    ("indexed descriptors", "descriptors", "{:d}"),
    ("catalog ingest wall (s)", "catalog_wall_s", "{:.1f}"),
    ("catalog photos per s", "photos_per_s", "{:.1f}"),
    ("index ready, cold start (s)", "index_ready_s", "{:.2f}"),
    ("index memory after votes (MB)", "index_mb", "{:.0f}"),
    ("index build, no snapshot (s)", "index_build_s", "{:.2f}"),
    ("index build peak memory (MB)", "index_build_peak_mb", "{:.0f}"),
    ("vote per keyframe p50 (ms)", "vote_ms_p50", "{:.1f}"),
    ("vote per keyframe p95 (ms)", "vote_ms_p95", "{:.1f}"),
    ("video ingest wall (s)", "video_wall_s", "{:.1f}"),
    ("video ingest CPU (s)", "video_cpu_s", "{:.1f}"),
    ("video s per wall s", "realtime_factor", "{:.2f}"),
    ("peak memory, CLI (MB)", "peak_rss_mb", "{:.0f}"),
    *ACCURACY_ROWS,
)


def print_table(results: list[dict]) -> None:
    """One column per catalog size."""
    print(f"{'':30s}" + "".join(f"{'+' + str(r['extra_products']):>10s}" for r in results))
    for label, key, fmt in ROWS:
        print(f"{label:30s}" + "".join(f"{fmt.format(r[key]):>10s}" for r in results))
    for r in results:
        print(f"+{r['extra_products']}: false pairs {r['false_pairs']}, missed pairs {r['missed_pairs']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path, help="a generator folder (truth.json), e.g. the one bench/accuracy.py made")
    parser.add_argument("--extra", type=int, nargs="+", default=[0, 200, 1000], help="products added to the catalog, one run each")
    parser.add_argument("--extra-seed", type=int, default=1, help="generator seed of the added products")
    parser.add_argument("--work", type=Path, help="folder for the added products and the runs' homes (default: a new temporary one)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a pipeline setting for every run (DEEPLENS_NAME)")
    args = parser.parse_args(argv)
    if any(n < 0 for n in args.extra):
        parser.error("--extra counts must be >= 0")
    settings = dict(item.split("=", 1) for item in args.set)
    truth = GroundTruth.from_json(args.dataset / "truth.json")
    work = args.work or Path(tempfile.mkdtemp(prefix="deeplens-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"generating {max(args.extra)} extra products (preset {truth.preset!r}, seed {args.extra_seed}) in {work} …", file=sys.stderr)
    # In a child process: the generator's memory would otherwise count in every CLI run's
    # peak (a forked child's peak starts at what its parent held).
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        skus = pool.submit(write_extra_products, work / "extra", max(args.extra), truth.preset, args.extra_seed).result()
    results = []
    for count in sorted(args.extra):
        print(f"catalog of {len(truth.products)} + {count} products …", file=sys.stderr)
        result = run_size(args.dataset, truth, [work / "extra" / sku for sku in skus[:count]], work, settings)
        print(json.dumps({"dataset": str(args.dataset), "seed": truth.seed, "settings": settings, **result}, default=float), flush=True)
        results.append(result)
    print_table(results)


if __name__ == "__main__":
    main()
