"""``deeplens serve`` stopped by a signal stops what it started, the embedded PostgreSQL included."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def home():
    # Outside pytest's private (0700) temp tree: the embedded server runs as another user.
    root = Path(tempfile.mkdtemp(prefix="deeplens-test-serve-"))
    yield root / "home"
    shutil.rmtree(root, ignore_errors=True)


def postmaster_running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except (ProcessLookupError, ValueError):
        return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_stopped_by_a_signal_stops_the_embedded_database_it_started(home, signum):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPLENS_") and k != "DATABASE_URL"}
    env["DEEPLENS_HOME"] = str(home)
    # A file, not a pipe: nothing reads a pipe while the service runs, and a full one would stall it.
    errors = home.parent / "serve.err"
    with errors.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "deeplens.cli.main", "serve", "--no-workers", "--port", str(port)],
                                   env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail(f"deeplens serve did not come up: {errors.read_text(errors='replace')[-2000:]}")
        pgdata = home / "pgdata"
        assert postmaster_running(pgdata)
        process.send_signal(signum)
        # Only a bound against hanging forever: stopping includes PostgreSQL's shutdown
        # checkpoint, which waits for a disk other jobs may be keeping busy.
        try:
            process.wait(timeout=240)
        except subprocess.TimeoutExpired:
            pytest.fail(f"deeplens serve did not stop: {errors.read_text(errors='replace')[-2000:]}")
    finally:
        if process.poll() is None:
            process.kill()
    assert not postmaster_running(pgdata)
    handles = pgdata / ".handle_pids.json"
    assert not handles.exists() or process.pid not in json.loads(handles.read_text() or "[]")
