"""What may name a tenant: one rule for settings, object keys and credentials.

A tenant id becomes a segment of object keys and URLs, so it holds no separators and no
dot segments.
"""

from __future__ import annotations

import re

TENANT_ID = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"
"""1-63 letters, digits, ``_``, ``.`` or ``-``, starting with a letter or digit."""

_TENANT = re.compile(TENANT_ID)


def is_tenant_id(tenant: str) -> bool:
    """Whether ``tenant`` can name a tenant."""
    return _TENANT.fullmatch(tenant) is not None


def check_tenant_id(tenant: str) -> str:
    """``tenant``, or ValueError saying what a tenant id may hold."""
    if not is_tenant_id(tenant):
        raise ValueError(f"tenant id {tenant!r} must be 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit")
    return tenant
