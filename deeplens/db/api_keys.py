"""API key rows: insert, look up by the secret's hash, list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

_COLUMNS = "id, tenant_id, name, prefix, scopes, created_at, expires_at, revoked_at"


def insert_key(conn: psycopg.Connection, tenant: str, name: str, prefix: str, secret_sha256: str,
               scopes: list[str], expires_at: datetime) -> dict[str, Any]:
    """Store a new key; returns its row (without the hash)."""
    return conn.execute(
        "INSERT INTO api_keys (tenant_id, name, prefix, secret_sha256, scopes, expires_at)"
        f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
        (tenant, name, prefix, secret_sha256, scopes, expires_at),
    ).fetchone()


def find_by_hash(conn: psycopg.Connection, secret_sha256: str) -> dict[str, Any] | None:
    """The key whose secret hashes to ``secret_sha256`` (revoked or expired ones too), if any."""
    return conn.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE secret_sha256 = %s", (secret_sha256,)).fetchone()


def list_keys(conn: psycopg.Connection, tenant: str | None) -> list[dict[str, Any]]:
    """Keys of one tenant (every tenant's with None), by id."""
    return conn.execute(
        f"SELECT {_COLUMNS} FROM api_keys WHERE %(t)s::text IS NULL OR tenant_id = %(t)s ORDER BY id", {"t": tenant}
    ).fetchall()


def revoke_key(conn: psycopg.Connection, key_id: int, tenant: str | None) -> bool:
    """Revoke a key (of ``tenant`` when given); False if there is no such unrevoked key."""
    row = conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE id = %(id)s AND revoked_at IS NULL"
        " AND (%(t)s::text IS NULL OR tenant_id = %(t)s) RETURNING id",
        {"id": key_id, "t": tenant},
    ).fetchone()
    return row is not None
