"""bench/load.py drives the results service with a mix of routes and prints its table."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "load.py"
ROUTES = {"products", "videos", "appearances", "search_image", "search_text"}


def test_the_load_benchmark_prints_each_routes_percentiles_and_the_servers_memory():
    # A short TMPDIR keeps the embedded PostgreSQL's socket path within its length limit.
    with tempfile.TemporaryDirectory(prefix="dl-load-") as tmp:
        result = subprocess.run(
            [sys.executable, str(BENCH), "--rate", "10", "--duration", "5"],
            capture_output=True, text=True, timeout=300, cwd=tmp, check=True, env={**os.environ, "TMPDIR": tmp},
        )
    rows = {cells[0]: cells[1:] for cells in map(str.split, result.stdout.splitlines()) if cells and cells[0] in ROUTES}
    assert set(rows) == ROUTES
    assert sum(int(row[0]) for row in rows.values()) == 50
    assert "overall:" in result.stdout and "server RSS" in result.stdout
