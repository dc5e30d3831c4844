"""bench/accuracy.py runs the real CLI and scores it against the generator's truth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from deeplens.datagen import generate_dataset

BENCH = Path(__file__).resolve().parents[2] / "bench" / "accuracy.py"


def test_videos_uploaded_before_their_catalog_are_scored_like_any_upload():
    # The benchmark's homes land in TMPDIR; a short path keeps the embedded PostgreSQL's
    # socket path within its length limit, which pytest's tmp_path exceeds.
    with tempfile.TemporaryDirectory(prefix="dl-acc-") as tmp:
        dataset = Path(tmp) / "data"
        generate_dataset(dataset, "tiny", seed=3)
        result = subprocess.run(
            [sys.executable, str(BENCH), str(dataset), "--no-baseline", "--videos-first"],
            capture_output=True, text=True, timeout=600, check=True, env={**os.environ, "TMPDIR": tmp},
        )
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["order"] == "videos first"
    assert report["pipeline"]["f1"] == 1.0
    assert report["pipeline"]["wall_s"] > 0
    assert "presence F1" in result.stdout
