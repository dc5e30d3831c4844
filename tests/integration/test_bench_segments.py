"""bench/segments.py runs one long video in one piece and in segments by 1 and more workers, and compares them."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "segments.py"


def test_the_segments_benchmark_prints_each_run_and_whether_its_appearances_are_the_one_worker_runs():
    # A short TMPDIR keeps the embedded PostgreSQL's socket path within its length limit.
    with tempfile.TemporaryDirectory(prefix="dl-seg-") as tmp:
        result = subprocess.run(
            [sys.executable, str(BENCH), "--root", tmp, "--duration", "6", "--segment", "2", "--workers", "1", "2"],
            capture_output=True, text=True, timeout=600, cwd=tmp, check=True, env={**os.environ, "TMPDIR": tmp},
        )
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith(("one piece", "2 s segments"))]
    # The one-piece run is the comparison's odd one out (a segment's first frame is a keyframe it may lack);
    # two workers on segments find exactly what one finds.
    assert len(rows) == 3 and [row[-1] for row in rows[1:]] == ["—", "yes"], result.stdout
