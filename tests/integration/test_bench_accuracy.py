"""bench/accuracy.py runs the real CLI and scores it against the generator's truth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from deeplens.datagen import generate_dataset

BENCH = Path(__file__).resolve().parents[2] / "bench" / "accuracy.py"
sys.path.insert(0, str(BENCH.parent))

from accuracy import database_cpu_s


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


def test_the_database_servers_cpu_includes_connections_that_have_closed(pg_server, database_url):
    before = database_cpu_s(Path(pg_server.pgdata))
    with psycopg.connect(database_url) as conn:  # its backend process exits when it closes
        conn.execute("SELECT count(*) FROM generate_series(1, 3000000)")
    assert before is not None
    deadline = time.monotonic() + 10
    while (after := database_cpu_s(Path(pg_server.pgdata))) and after[1] - before[1] <= 0.1 and time.monotonic() < deadline:
        time.sleep(0.05)  # the exited backend counts once the postmaster has reaped it
    assert after is not None and after[0] == before[0]
    assert after[1] - before[1] > 0.1


def test_no_database_cpu_is_read_where_no_server_runs(tmp_path):
    assert database_cpu_s(tmp_path / "pgdata") is None
