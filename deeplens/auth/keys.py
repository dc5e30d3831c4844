"""API keys for machine clients: random secrets stored as their sha256, scoped, expiring, revocable.

A key reads ``dlk_<43 url-safe characters>`` (256 random bits): far too much entropy for a
fast hash to be brute-forced, so sha256 is enough and a look-up by hash needs no salt.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from deeplens.auth.errors import Unauthenticated
from deeplens.auth.principal import SCOPES, Principal, checked_tenant
from deeplens.db import Database
from deeplens.db.api_keys import find_by_hash, insert_key, list_keys, revoke_key
from deeplens.errors import BadInput

KEY_PREFIX = "dlk_"
_PREFIX_SHOWN = len(KEY_PREFIX) + 6


def is_api_key(credential: str) -> bool:
    """Whether a bearer credential is shaped like an API key (rather than a JWT)."""
    return credential.startswith(KEY_PREFIX)


def hash_secret(plaintext: str) -> str:
    """What is stored of a key: the hex sha256 of its text."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """A stored key, as listings show it (never its secret)."""

    id: int
    tenant: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"


def _key(row: dict[str, Any]) -> ApiKey:
    return ApiKey(id=row["id"], tenant=row["tenant_id"], name=row["name"], prefix=row["prefix"],
                  scopes=tuple(row["scopes"]), created_at=row["created_at"], expires_at=row["expires_at"],
                  revoked_at=row["revoked_at"])


class ApiKeyStore:
    """Create, list, revoke and verify API keys in the database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, tenant: str, scopes: Iterable[str], *, expires_in: timedelta, name: str = "") -> tuple[ApiKey, str]:
        """A new key of ``tenant`` with ``scopes``, expiring after ``expires_in``: (the key, its plaintext).

        The plaintext exists only in the returned value; it cannot be read back later.
        """
        wanted = sorted(set(scopes))
        if not wanted or not set(wanted) <= SCOPES:
            raise BadInput("bad_scopes", f"scopes must be some of {', '.join(sorted(SCOPES))}, got {wanted}")
        if expires_in <= timedelta(0):
            raise BadInput("bad_expiry", "an API key must expire in the future")
        try:
            checked_tenant(tenant)
        except Unauthenticated as exc:
            raise BadInput("bad_tenant", f"not a valid tenant id: {tenant!r}") from exc
        plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
        with self.db.transaction() as conn:
            row = insert_key(conn, tenant, name, plaintext[:_PREFIX_SHOWN], hash_secret(plaintext), wanted,
                             datetime.now(UTC) + expires_in)
        return _key(row), plaintext

    def list(self, tenant: str | None = None) -> list[ApiKey]:
        """Keys of ``tenant`` (all tenants' with None), revoked and expired ones included."""
        with self.db.pool.connection() as conn:
            return [_key(r) for r in list_keys(conn, tenant)]

    def revoke(self, key_id: int, *, tenant: str | None = None) -> bool:
        """Revoke key ``key_id`` (only if it is ``tenant``'s, when given); False if there was no such active key."""
        with self.db.transaction() as conn:
            return revoke_key(conn, key_id, tenant)

    def verify(self, plaintext: str) -> Principal:
        """The principal an active key stands for; :class:`Unauthenticated` for an unknown, expired or revoked one."""
        with self.db.pool.connection() as conn:
            row = find_by_hash(conn, hash_secret(plaintext))
        if row is None:
            raise Unauthenticated("invalid_api_key", "the API key is not known")
        key = _key(row)
        state = key.state(datetime.now(UTC))
        if state != "active":
            raise Unauthenticated(f"{state}_api_key", f"the API key is {state}")
        return Principal(tenant=key.tenant, scopes=frozenset(key.scopes), subject=f"api-key:{key.id}", kind="api_key")
