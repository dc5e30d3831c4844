"""A pooled connection to PostgreSQL (embedded by default), migrated on open."""

from __future__ import annotations

import select
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from deeplens import tracing
from deeplens.config import Settings
from deeplens.db.migrate import migrate


class TracedConnection(psycopg.Connection):
    """A connection whose ``execute`` is a ``db.query`` span when tracing is on.

    The span names the statement's verb only: statements are bounded, their parameters
    (tenant data, keys) never become attributes.
    """

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        if not tracing.enabled():
            return super().execute(query, params, **kwargs)
        text = query if isinstance(query, str) else ""
        with tracing.span("db.query", db_system="postgresql", db_operation=(text.split() or ["?"])[0].upper()):
            return super().execute(query, params, **kwargs)


def check_idle_connection(conn: psycopg.Connection) -> None:
    """Raise for a pooled connection the server dropped (a restart, a failover), before use.

    An idle connection has nothing to read unless the server wrote to it: a server that
    ends a session sends its reason and closes the socket. So only a connection with
    something to read pays a round trip (psycopg_pool's ``check_connection``, which raises
    for a dead one). A round trip on every borrow was about 14 a product photo onboarded,
    and a fifth of onboarding's throughput (one A/B, 2 workers: 29 against 36 photos/s).
    """
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    if poller.poll(0):
        ConnectionPool.check_connection(conn)


class Database:
    """Connection pool plus, on a laptop, the embedded server that backs it."""

    def __init__(self, url: str, *, server: Any = None, max_size: int = 8) -> None:
        self.url = url
        self._server = server  # keeps the embedded server alive while this object lives
        self._max_size = max_size
        self._search_pool: ConnectionPool | None = None
        self._search_pool_lock = threading.Lock()
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            kwargs={"row_factory": dict_row},
            configure=register_vector,
            connection_class=TracedConnection,
            # A connection the server dropped (a restart, a failover) is replaced before use, not handed out.
            check=check_idle_connection,
            open=True,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """Connect to ``DATABASE_URL``, or start the embedded server under ``DEEPLENS_HOME``."""
        if settings.database_url:
            return cls(settings.database_url)
        from deeplens.db.embedded import start_embedded_server  # only the laptop path needs it

        server = start_embedded_server(settings.pgdata)
        return cls(server.get_uri(), server=server)

    def ping(self, *, timeout: float) -> None:
        """Raise unless the database answers a query within ``timeout`` seconds (waiting for a pooled connection included)."""
        with self.pool.connection(timeout=timeout) as conn:
            conn.execute("SELECT 1")

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A connection inside one transaction (committed on success, rolled back on error)."""
        with self.pool.connection() as conn, conn.transaction():
            yield conn

    @contextmanager
    def search_connection(self) -> Iterator[psycopg.Connection]:
        """An autocommit connection reserved for vector searches (opened on first use).

        Searches change session settings (``hnsw.*``, ``enable_seqscan``) and run as one
        statement with no transaction around it, so they get connections of their own
        rather than borrowing the pipeline's.
        """
        with self._search_pool_lock:
            if self._search_pool is None:
                self._search_pool = ConnectionPool(
                    self.url, min_size=1, max_size=self._max_size,
                    kwargs={"row_factory": dict_row, "autocommit": True}, configure=register_vector,
                    connection_class=TracedConnection, check=check_idle_connection, open=True,
                )
        with self._search_pool.connection() as conn:
            yield conn

    def close(self) -> None:
        """Close the pools; the embedded server stops when its last user is gone."""
        if self._search_pool is not None:
            self._search_pool.close()
        self.pool.close()
        self._server = None
