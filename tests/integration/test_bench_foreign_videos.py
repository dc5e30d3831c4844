"""bench/foreign_videos.py uploads other datasets' videos with a catalog and reports what it finds in them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from deeplens.datagen import GroundTruth, generate_dataset

BENCH = Path(__file__).resolve().parents[2] / "bench" / "foreign_videos.py"


def test_foreign_videos_are_uploaded_with_the_catalog_and_everything_found_in_them_is_a_false_positive():
    # A short TMPDIR keeps the embedded PostgreSQL's socket path within its length limit.
    with tempfile.TemporaryDirectory(prefix="dl-for-") as tmp:
        dataset, foreign = Path(tmp) / "own", Path(tmp) / "foreign"
        generate_dataset(dataset, "tiny", seed=3)
        generate_dataset(foreign, "tiny", seed=4)
        result = subprocess.run(
            [sys.executable, str(BENCH), str(dataset), "--foreign", str(foreign), "--videos-first"],
            capture_output=True, text=True, timeout=600, check=True, env={**os.environ, "TMPDIR": tmp},
        )
        foreign_seconds = sum(v.duration for v in GroundTruth.from_json(foreign / "truth.json").videos.values())
    report = json.loads(result.stdout.splitlines()[-1])["pipeline"]
    assert report["f1"] == 1.0
    assert report["foreign_video_s"] == foreign_seconds
    assert all(a["video"].startswith("foreign1-") for a in report["foreign_false_appearances"])
    assert [run["folder"] for run in report["runs"]] == ["videos", "catalog"]
    assert "false appearances in foreign video" in result.stdout
