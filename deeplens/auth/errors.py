"""Why a request is not let in: no valid credential (401) or not the scope it needs (403)."""

from __future__ import annotations

from deeplens.errors import DeepLensError


class AuthError(DeepLensError):
    """A credential problem; ``code`` is a short machine code (the API's ``error``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Unauthenticated(AuthError):
    """No credential, or one that cannot be trusted (bad signature, expired, revoked, unknown)."""


class Forbidden(AuthError):
    """A valid credential without the scope the request needs."""

    def __init__(self, scope: str) -> None:
        super().__init__("insufficient_scope", f"this request needs the {scope!r} scope")
        self.scope = scope


class AuthMisconfigured(DeepLensError):
    """Auth is on but cannot verify anything as configured: the service must not start."""
