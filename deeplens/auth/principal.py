"""The caller of a request: a tenant, the scopes granted, and what vouched for them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from deeplens.auth.errors import Forbidden, Unauthenticated

READ = "read"
"""Listings, search, images, evidence."""
WRITE = "write"
"""Uploads, collect, rematch, dead-letter replay."""
ADMIN = "admin"
"""API keys, dead letters."""
SCOPES = frozenset({READ, WRITE, ADMIN})

CredentialKind = Literal["jwt", "api_key", "none"]

# Tenant ids become row keys and object-key prefixes (<tenant>/products/...): no slashes,
# dots-only names or control characters can come in through a token claim.
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def checked_tenant(value: object) -> str:
    """``value`` as a tenant id, or :class:`Unauthenticated` if a credential names none or a malformed one."""
    if not isinstance(value, str) or not _TENANT.fullmatch(value):
        raise Unauthenticated("invalid_token", "the credential names no valid tenant")
    return value


def parse_scopes(value: object) -> frozenset[str]:
    """Scopes from a claim: a space-separated string or a list of strings; unknown scopes are dropped."""
    if isinstance(value, str):
        names = value.split()
    elif isinstance(value, list | tuple):
        names = [v for v in value if isinstance(v, str)]
    else:
        names = []
    return frozenset(names) & SCOPES


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: ``tenant`` with ``scopes``, vouched for by a credential of ``kind``."""

    tenant: str
    scopes: frozenset[str]
    subject: str
    kind: CredentialKind

    def require(self, scope: str) -> None:
        """Raise :class:`Forbidden` unless this principal holds ``scope``."""
        if scope not in self.scopes:
            raise Forbidden(scope)
