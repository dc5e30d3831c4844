"""Liveness and readiness are separate: /health asks the process, /ready also its database and store."""

from __future__ import annotations

import socket

from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer

from deeplens.api import create_app
from deeplens.pipeline.services import Services
from deeplens.storage.s3 import S3Store


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_service_whose_database_and_store_answer_is_ready(services):
    client = TestClient(create_app(services))
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/ready").json() == {"status": "ready"}


def test_a_service_whose_store_is_down_is_alive_but_not_ready(services, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    moto.start()
    store = S3Store("ready-test", endpoint_url=f"http://127.0.0.1:{port}")
    store.ensure_bucket()
    moto.stop()  # the object store goes away after start-up
    client = TestClient(create_app(Services(services.settings, services.db, store, _embedder=services.embedder)))
    assert client.get("/health").status_code == 200
    response = client.get("/ready")
    assert (response.status_code, response.json()["error"]) == (503, "store_unreachable")
