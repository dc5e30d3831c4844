"""Connections the database server dropped (a restart, a failover) are replaced before anyone uses them."""

from __future__ import annotations

import time
import uuid

import psycopg

from deeplens.db import Database


def with_application_name(url: str, name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


def test_a_pooled_connection_the_server_terminated_is_replaced_before_use(database_url):
    name = f"reconnect-{uuid.uuid4().hex[:8]}"
    db = Database(with_application_name(database_url, name), max_size=2)
    try:
        with db.pool.connection() as conn:
            conn.execute("SELECT 1")
        with psycopg.connect(database_url, autocommit=True) as admin:
            terminated = admin.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s", (name,)
            ).fetchone()[0]
            assert terminated >= 1
            # Terminating only signals the backend; it is gone (its farewell sent) once it leaves the list.
            for _ in range(600):
                if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE application_name = %s", (name,)).fetchone():
                    break
                time.sleep(0.05)
        with db.pool.connection() as conn:
            assert conn.execute("SELECT 42 AS answer").fetchone()["answer"] == 42
    finally:
        db.close()
