"""The cluster in a box: every component a real process on loopback, wired as the chart wires them.

Each step runs as its own functions-framework server, the HTTP broker routes CloudEvents
between them by the routing table (retry, backoff, dead-letter sink), a real KServe model
server embeds, moto's S3 server delivers bucket notifications into its SQS queue, an SQS
source forwards them to ingest, and the results service answers with auth on (HS256
tokens). PostgreSQL is the caller's. Used by ``tests/cluster`` and ``bench/upload_soak.py``.

The steps can reach the object store through :class:`FlakyStore`, a proxy that answers
503 on demand, as S3 does when it sheds load.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Self

import boto3
import httpx
import jwt

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from eventing.routing import STEPS

BUCKET = "deeplens"
SECRET = "cluster-in-a-box-secret-of-32-characters"
"""The results service's HS256 secret: it runs with auth on, as the chart deploys it."""
AUDIENCE = "deeplens"
AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    """A TCP port free on loopback now."""
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
        """Start the process and wait until it answers."""
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
        """The last lines of the process's output."""
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
    """This process's environment without DeepLens's own settings, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPLENS_") and k != "DATABASE_URL"}
    env.update(overrides)
    return env


class FlakyStore:
    """An HTTP proxy in front of the S3 server that answers 503 ``ServiceUnavailable`` while ``failing`` is set."""

    _HOP_BY_HOP: ClassVar[frozenset[str]] = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host"})

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.failing = threading.Event()
        self.refused = 0
        proxy = self
        client = httpx.Client(timeout=60.0)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.failing.is_set():
                    proxy.refused += 1
                    self._answer(503, {"Content-Type": "application/xml"},
                                 b"<Error><Code>ServiceUnavailable</Code><Message>Please reduce your request rate.</Message></Error>")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in proxy._HOP_BY_HOP}
                reply = client.request(self.command, proxy.upstream + self.path, headers=headers, content=body)
                self._answer(reply.status_code, {k: v for k, v in reply.headers.items() if k.lower() not in proxy._HOP_BY_HOP},
                             reply.content, head=self.command == "HEAD")

            def _answer(self, status: int, headers: dict[str, str], body: bytes, *, head: bool = False) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


def token(tenant: str) -> dict[str, str]:
    """The header of a token of ``tenant`` with every scope, for the results service."""
    claims = {"tenant": tenant, "scope": "read write admin", "aud": AUDIENCE, "sub": f"ops-of-{tenant}",
              "exp": int(time.time()) + 3600}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


class LoopbackCluster:
    """Every component started on loopback over one database; a context manager that kills them all on exit.

    ``env`` adds variables to every DeepLens process (tracing, delivery settings); with
    ``flaky_store`` the steps and the results service reach S3 through a :class:`FlakyStore`;
    ``replicas`` runs several instances of a step (``{"keyframes": 2}``), named
    ``keyframes``, ``keyframes-2``, …, which the broker takes in turn.
    """

    def __init__(self, database_url: str, log_dir: Path, *, env: dict[str, str] | None = None, flaky_store: bool = False,
                 replicas: dict[str, int] | None = None) -> None:
        self.replicas = replicas or {}
        from moto.server import ThreadedMotoServer

        self.log_dir = log_dir
        self.tenant = f"cluster-{uuid.uuid4().hex[:8]}"
        s3_port = free_port()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port)
        self._moto.start()
        self.s3_url = f"http://127.0.0.1:{s3_port}"
        self.s3 = self._client("s3")
        self.sqs = self._client("sqs")
        self.queue_url = self._notify_queue()
        self.store = FlakyStore(self.s3_url) if flaky_store else None
        broker_port = free_port()
        self.env = base_env(
            **AWS,
            DATABASE_URL=database_url,
            DEEPLENS_HOME=str(log_dir / "home"),
            DEEPLENS_STORE="s3",
            DEEPLENS_BUCKET=BUCKET,
            S3_ENDPOINT_URL=self.store.url if self.store else self.s3_url,
            DEEPLENS_S3_ANNOUNCE="false",
            DEEPLENS_BROKER_URL=f"http://127.0.0.1:{broker_port}/",
            **(env or {}),
        )
        self.components: dict[str, Component] = {}
        try:
            self._start(broker_port)
        except BaseException:
            self.close()
            raise

    def _client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.s3_url, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    def _notify_queue(self) -> str:
        """Create the bucket and have it announce new products and videos into an SQS queue; returns its URL."""
        self.s3.create_bucket(Bucket=BUCKET)
        queue_url = self.sqs.create_queue(QueueName="deeplens-notifications")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.s3.put_bucket_notification_configuration(
            Bucket=BUCKET,
            NotificationConfiguration={"QueueConfigurations": [
                {"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"],
                 "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}}}
                for prefix in ("products/", "videos/")
            ]},
        )
        return queue_url

    def _start(self, broker_port: int) -> None:
        logs, env = self.log_dir, self.env
        predictor = python_module("predictor", "inference", ["--http_port", "{port}", "--enable_grpc", "false"],
                                  base_env(DEEPLENS_MODEL="mobilenet_v2"), logs, health_path="/v2/health/ready")
        self.components["predictor"] = predictor.start()
        env = self.env = {**env, "DEEPLENS_PREDICTOR_URL": predictor.url}
        subscribers = []
        for step in STEPS:
            for n in range(1, self.replicas.get(step, 1) + 1):
                name = step if n == 1 else f"{step}-{n}"
                self.components[name] = function(name, step, env, logs).start()
                subscribers.append(f"--subscriber={step}={self.components[name].url}/")
        self.components["deadletter"] = function("deadletter", "deadletter", env, logs).start()
        self.components["broker"] = python_module(
            "broker", "eventing.http_broker", ["--port", "{port}", *subscribers, f"--dead-letter-sink={self.components['deadletter'].url}/"],
            env, logs, port=broker_port, health_path="/healthz").start()
        self.components["source"] = python_module(
            "sqs-source", "eventing.sqs_source", ["--queue-url", self.queue_url, "--sink", self.components["ingest"].url + "/",
                                                  "--endpoint-url", self.s3_url],
            env, logs, health_path=None).start()
        # The functions take each object's tenant from its key; only the results service is told one.
        self.components["results"] = python_module(
            "results", "deeplens.cli.main", ["serve", "--no-workers", "--port", "{port}"],
            {**env, "DEEPLENS_AUTH_ENABLED": "true", "DEEPLENS_AUTH_HS256_SECRET": SECRET, "DEEPLENS_AUTH_AUDIENCE": AUDIENCE},
            logs, health_path="/health").start()

    @property
    def results(self) -> Component:
        return self.components["results"]

    def logs(self, names: Iterable[str] | None = None) -> str:
        """The tails of the components' logs, for a failure message."""
        chosen = self.components.values() if names is None else [self.components[n] for n in names]
        return "\n\n".join(f"--- {c.name} ---\n{c.log_tail()}" for c in chosen)

    def close(self) -> None:
        """Kill every component and stop the S3 server."""
        for component in self.components.values():
            component.kill()
        if self.store is not None:
            self.store.stop()
        self._moto.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
