"""bench/steps.py runs the real pipeline and accounts for its CPU step by step."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "steps.py"
STEPS = {"ingest", "keyframes", "features", "match", "evidence"}


def test_the_steps_benchmark_prints_each_steps_wall_and_cpu_seconds():
    # The benchmark's dataset and home land in TMPDIR; a short path keeps the embedded
    # PostgreSQL's socket path within its length limit, which pytest's tmp_path exceeds.
    with tempfile.TemporaryDirectory(prefix="dl-steps-") as tmp:
        result = subprocess.run(
            [sys.executable, str(BENCH), "--preset", "tiny", "--workers", "2"],
            capture_output=True, text=True, timeout=600, cwd=tmp, check=True, env={**os.environ, "TMPDIR": tmp},
        )
    rows = {cells[0]: [float(v) for v in cells[1:]] for cells in map(str.split, result.stdout.splitlines()) if cells and cells[0] in STEPS}
    assert set(rows) == STEPS
    items, _busy, _rate, cpu, _share = rows["features"]
    assert items > 0 and cpu > 0
    assert sum(row[4] for row in rows.values()) <= 100.5
