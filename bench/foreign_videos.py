"""Precision against products that are not in the catalog but share its packaging template.

    python bench/foreign_videos.py DATASET --foreign DIR [DIR ...] [--videos-first] [--set NAME=VALUE]

DATASET's catalog and videos are uploaded with the CLI, in a fresh home, together with the
videos of each FOREIGN dataset (other seeds of the generator, e.g. the folders
``bench/accuracy.py --seed N`` made). Their products are built from the same packaging
template as DATASET's (the same layout, fine print, barcode, seal and badge places) with
other names, artwork and colours, and none of them is in DATASET's catalog: every
appearance reported in a foreign video is a false positive. That is harder than the
accuracy dataset's distractors, and it is what a brand team's library holds: other
products of the same packaging line, or a competitor's on a similar layout.

Prints DATASET's accuracy (as ``bench/accuracy.py`` scores it), every foreign false
positive with its time and score, and each CLI run's time. ``--videos-first`` uploads
every video, then the catalog, so the catalog's pass over the earlier keyframes covers
the whole library (the second run's time is that pass, plus the catalog's own indexing).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import ACCURACY_ROWS, found_appearances, linked_folder, run_cli_measured, score_appearances, video_seconds

from deeplens.datagen import GroundTruth


def upload_folders(dataset: Path, foreign: list[Path], work: Path, *, videos_first: bool) -> list[Path]:
    """Ingestable folders holding DATASET's catalog and videos and each foreign dataset's videos, in upload order.

    Foreign videos are linked under ``foreign<i>-<name>``, so their ids never collide with DATASET's.
    """
    videos = linked_folder(work / "upload-videos", "videos", sorted((dataset / "videos").iterdir()))
    for i, other in enumerate(foreign, 1):
        for member in sorted((other / "videos").iterdir()):
            (videos / "videos" / f"foreign{i}-{member.name}").symlink_to(member.resolve())
    catalog = linked_folder(work / "upload-catalog", "products", sorted((dataset / "products").iterdir()))
    return [videos, catalog] if videos_first else [catalog, videos]


def run(dataset: Path, foreign: list[Path], settings: dict[str, str], *, videos_first: bool) -> dict:
    """Upload, wait, and score DATASET's videos against its truth and the foreign videos against nothing."""
    truth = GroundTruth.from_json(dataset / "truth.json")
    foreign_seconds = sum(video_seconds(GroundTruth.from_json(other / "truth.json")) for other in foreign)
    home = Path(tempfile.mkdtemp(prefix="deeplens-foreign-"))
    runs = [run_cli_measured(home, "ingest", str(folder), "--wait", settings=settings)
            for folder in upload_folders(dataset, foreign, home, videos_first=videos_first)]
    found = found_appearances(home, settings)
    own = [a for a in found if a["video"] in truth.videos]
    scores = score_appearances(truth, own)
    false_foreign = sorted(
        ({"video": a["video"], "product": a["product"], "start": a["start"], "end": a["end"], "score": a["score"]}
         for a in found if a["video"] not in truth.videos),
        key=lambda a: (a["video"], a["start"]),
    )
    true_pairs = len({(a["video"], a["product"]) for a in own}) - len(scores["false_pairs"])
    reported_pairs = len({(a["video"], a["product"]) for a in found})
    scores.update(
        home=str(home),
        video_s=video_seconds(truth),
        foreign_video_s=foreign_seconds,
        foreign_false_appearances=false_foreign,
        foreign_false_pairs=len({(a["video"], a["product"]) for a in false_foreign}),
        precision_with_foreign=true_pairs / reported_pairs if reported_pairs else float("nan"),
        runs=[{"folder": folder, "wall_s": r.wall_s, "cpu_s": r.cpu_s, "peak_rss_mb": r.peak_rss_mb}
              for folder, r in zip(["videos", "catalog"] if videos_first else ["catalog", "videos"], runs)],
    )
    return scores


def print_report(scores: dict) -> None:
    print(f"{'metric':36s} {'value':>10s}")
    for label, key, fmt in ACCURACY_ROWS:
        if key in scores:
            print(f"{label:36s} {fmt.format(scores[key]):>10s}")
    print(f"{'foreign video (s)':36s} {scores['foreign_video_s']:>10.0f}")
    print(f"{'false appearances in foreign video':36s} {len(scores['foreign_false_appearances']):>10d}")
    print(f"{'false (video, product) pairs there':36s} {scores['foreign_false_pairs']:>10d}")
    print(f"{'presence precision, foreign included':36s} {scores['precision_with_foreign']:>10.3f}")
    for run in scores["runs"]:
        print(f"{'ingest ' + run['folder'] + ': wall / CPU (s)':36s} {run['wall_s']:>5.1f} / {run['cpu_s']:.1f}")
    for a in scores["foreign_false_appearances"]:
        print(f"  foreign false positive: {a['video']} {a['product']} {a['start']:.2f}-{a['end']:.2f} s, score {a['score']:.3f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path, help="a generator folder (truth.json) whose catalog is uploaded")
    parser.add_argument("--foreign", type=Path, nargs="+", required=True,
                        help="generator folders whose videos are uploaded too (other seeds: none of their products is in the catalog)")
    parser.add_argument("--videos-first", action="store_true", help="upload every video, wait, then the catalog")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a pipeline setting for this run (DEEPLENS_NAME)")
    args = parser.parse_args(argv)
    for folder in (args.dataset, *args.foreign):
        if not (folder / "truth.json").exists():
            parser.error(f"{folder} is not a generator folder (no truth.json); make one with bench/accuracy.py")
    settings = dict(item.split("=", 1) for item in args.set)
    scores = run(args.dataset, args.foreign, settings, videos_first=args.videos_first)
    print_report(scores)
    print(json.dumps({"dataset": str(args.dataset), "foreign": [str(f) for f in args.foreign], "settings": settings,
                      "order": "videos first" if args.videos_first else "catalog first", "pipeline": scores}, default=float))


if __name__ == "__main__":
    main()
