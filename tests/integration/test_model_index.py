"""A model's vector index is created once, however many workers write its first vectors at once."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from deeplens.db.connection import Database
from deeplens.db.vectors import ensure_model_index, upsert_embeddings

MODEL = "first-model"
VECTOR = np.ones((1, 8), np.float32)


@pytest.fixture
def database(pg_server) -> Iterator[Database]:
    """A migrated database of its own: no model has written to it yet."""
    name = f"idx_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    db = Database(make_conninfo(pg_server.get_uri(), dbname=name))
    yield db
    db.close()


def wait_until_blocked(db: Database, pid: int) -> None:
    """Return once backend ``pid`` waits on a lock (it is then inside the statement that waits)."""
    with psycopg.connect(db.url, autocommit=True) as conn:
        for _ in range(600):
            row = conn.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
            if row and row[0] == "Lock":
                return
            time.sleep(0.05)
    raise AssertionError(f"backend {pid} never waited on a lock")


def test_two_first_writers_of_a_model_take_turns_instead_of_deadlocking(database: Database) -> None:
    errors: list[BaseException] = []
    second_pid: list[int] = []
    started = threading.Event()

    def second_writer() -> None:
        try:
            with database.transaction() as conn:
                second_pid.append(conn.info.backend_pid)
                started.set()
                upsert_embeddings(conn, "t", "frame", [2], MODEL, VECTOR)
        except BaseException as exc:  # noqa: BLE001 - the assertion below reports it
            errors.append(exc)
            started.set()

    with database.transaction() as conn:
        # The first writer has made the index, and not yet written its vectors, when the
        # second starts: two CREATE INDEX of one name would each wait for the other here.
        ensure_model_index(conn, MODEL, 8)
        thread = threading.Thread(target=second_writer)
        thread.start()
        started.wait(30)
        wait_until_blocked(database, second_pid[0])
        upsert_embeddings(conn, "t", "frame", [1], MODEL, VECTOR)
    thread.join(60)

    assert not errors, errors
    with database.transaction() as conn:
        rows = conn.execute("SELECT item_id FROM embeddings WHERE model = %s ORDER BY item_id", (MODEL,)).fetchall()
        models = conn.execute("SELECT count(*) AS n FROM models WHERE model = %s", (MODEL,)).fetchone()
    assert [r["item_id"] for r in rows] == [1, 2]
    assert models["n"] == 1
