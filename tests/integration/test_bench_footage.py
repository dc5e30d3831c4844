"""bench/footage.py encodes a set as H.264 and prints its accuracy and speed beside the decode limit, with the default set."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "footage.py"


def test_the_footage_benchmark_prints_both_sets_with_the_decode_limit_measured_in_the_same_run():
    # A short TMPDIR keeps the embedded PostgreSQL's socket path within its length limit.
    with tempfile.TemporaryDirectory(prefix="dl-footage-") as tmp:
        result = subprocess.run(
            [sys.executable, str(BENCH), "--root", tmp, "--hd-preset", "tiny", "--default-preset", "tiny"],
            capture_output=True, text=True, timeout=600, cwd=tmp, check=True, env={**os.environ, "TMPDIR": tmp},
        )
        encoded = next(Path(tmp).glob("hd-tiny-seed0/videos/*.mp4"))
        import av

        with av.open(str(encoded)) as container:
            assert container.streams.video[0].codec_context.name == "h264"
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["hd", "s0", "default", "s0"]
    rows = {line[:38].strip(): line[38:].split() for line in lines[2:]}
    assert len(rows["presence recall"]) == 2 and len(rows["decode limit: × real time, all cores"]) == 2
    assert all(0 < float(value) < float("inf") for value in rows["decode limit: × real time, all cores"])
