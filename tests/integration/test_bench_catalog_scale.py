"""bench/catalog_scale.py grows the catalog with products no video shows and scores each size."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from deeplens.datagen import generate_dataset

BENCH = Path(__file__).resolve().parents[2] / "bench" / "catalog_scale.py"


def test_the_catalog_scale_benchmark_runs_the_pipeline_once_per_catalog_size():
    # Homes live under --work; a short path keeps the embedded PostgreSQL's socket path
    # within its length limit, which pytest's tmp_path exceeds.
    with tempfile.TemporaryDirectory(prefix="dl-scale-") as tmp:
        dataset = Path(tmp) / "data"
        truth = generate_dataset(dataset, "tiny", seed=3)
        result = subprocess.run(
            [sys.executable, str(BENCH), str(dataset), "--extra", "0", "2", "--work", str(Path(tmp) / "w")],
            capture_output=True, text=True, timeout=600, check=True,
        )
        added = sorted(p.name for p in (Path(tmp) / "w" / "extra").iterdir())
    runs = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["products"] for r in runs] == [len(truth.products), len(truth.products) + 2]
    assert added == ["XSKU-1001", "XSKU-1002"]
    assert runs[1]["descriptors"] > runs[0]["descriptors"] > 0
    assert all(r["f1"] > 0 and r["video_wall_s"] > 0 for r in runs)
    assert "vote per keyframe p95 (ms)" in result.stdout
