"""Start the cluster's components as real processes on loopback, wired as the chart wires them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers at all (any status), or fail with the process's output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not come up in {timeout}s")


@dataclass
class Component:
    """One process: how to start it, where it listens, and its log file."""

    name: str
    args: list[str]
    port: int
    env: dict[str, str]
    log_dir: Path
    health_path: str | None = "/"
    """Polled until it answers; None for a component that serves nothing."""
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Component:
        # The child keeps its own copy of the log's descriptor; ours closes at once. A
        # session of its own, so killing it takes its workers too (functions-framework
        # serves through gunicorn worker processes).
        with open(self.log_dir / f"{self.name}.log", "ab") as log:
            self.process = subprocess.Popen(
                self.args, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        if self.health_path is not None:
            wait_until_up(self.url + self.health_path, self.process)
        return self

    def kill(self) -> None:
        """Kill the process outright, as a crashed pod would go."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        path = self.log_dir / f"{self.name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def function(name: str, target: str, env: dict[str, str], log_dir: Path) -> Component:
    """A step served by functions-framework, as its Knative Service runs it."""
    port = free_port()
    args = [
        str(Path(sys.executable).parent / "functions-framework"),
        "--source", str(REPO / "functions" / "main.py"),
        "--target", target,
        "--signature-type", "http",
        "--port", str(port),
        "--host", "127.0.0.1",
    ]
    return Component(name, args, port, env, log_dir)


def python_module(name: str, module: str, extra: list[str], env: dict[str, str], log_dir: Path, *, port: int | None = None,
                  health_path: str | None = "/") -> Component:
    """A ``python -m`` component (broker, model server, results service)."""
    port = port or free_port()
    args = [sys.executable, "-m", module, *[a.replace("{port}", str(port)) for a in extra]]
    return Component(name, args, port, env, log_dir, health_path=health_path)


def base_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPLENS_") and k != "DATABASE_URL"}
    env.update(overrides)
    return env
