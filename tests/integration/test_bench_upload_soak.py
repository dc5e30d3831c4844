"""bench/upload_soak.py puts bursts of uploads through the loopback cluster under each fault and prints its table."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "upload_soak.py"

pytestmark = pytest.mark.cluster


def test_every_upload_of_every_fault_phase_is_processed_with_the_appearances_of_the_faultless_phase():
    # A short TMPDIR keeps the embedded PostgreSQL's socket path within its length limit.
    with tempfile.TemporaryDirectory(prefix="dl-soak-") as tmp:
        result = subprocess.run(
            [sys.executable, str(BENCH), "--uploads", "6", "--fault-at", "1", "--outage", "3", "--drain-timeout", "240"],
            capture_output=True, text=True, timeout=900, cwd=tmp, check=True, env={**os.environ, "TMPDIR": tmp},
        )
    table = result.stdout.split("\n\n")[-1]
    rows = {cells[0]: cells[1:] for cells in map(str.split, table.splitlines()) if cells and cells[0] in
            {"none", "db-restart", "step-kill", "store-503"}}
    assert set(rows) == {"none", "db-restart", "step-kill", "store-503"}, result.stdout
    for phase, (uploads, done, failed, _dead, lost, *_rest, same) in rows.items():
        # Every upload is processed, or failed with a recorded reason; none is lost; and the
        # fault changed no appearance.
        assert (int(uploads), int(done) + int(failed), int(lost)) == (6, 6, 0), (phase, result.stdout)
        assert same in {"—", "yes"}, (phase, result.stdout)
