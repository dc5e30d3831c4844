"""From a bearer credential to a :class:`Principal`, as the settings say."""

from __future__ import annotations

import logging

from deeplens.auth.errors import AuthMisconfigured, Unauthenticated
from deeplens.auth.keys import ApiKeyStore, is_api_key
from deeplens.auth.principal import SCOPES, Principal
from deeplens.auth.tokens import TokenVerifier
from deeplens.config import Settings
from deeplens.db import Database

log = logging.getLogger(__name__)


class Authenticator:
    """Resolves credentials: API keys by the key store, JWTs by the token verifier; with auth
    off, every request is the configured tenant with every scope."""

    def __init__(self, *, enabled: bool, tenant: str, keys: ApiKeyStore | None = None,
                 tokens: TokenVerifier | None = None) -> None:
        self.enabled = enabled
        self._anonymous = Principal(tenant=tenant, scopes=SCOPES, subject="local", kind="none")
        self._keys = keys
        self._tokens = tokens

    @classmethod
    def from_settings(cls, settings: Settings, db: Database) -> Authenticator:
        """The authenticator the settings configure; :class:`AuthMisconfigured` (refuse to start) when auth
        is on and nothing could vouch for a token, unless API keys alone are explicitly meant."""
        if not settings.auth_enabled:
            return cls(enabled=False, tenant=settings.tenant)
        tokens = TokenVerifier.from_settings(settings)
        if tokens is None and not settings.auth_api_keys_only:
            raise AuthMisconfigured(
                "DEEPLENS_AUTH_ENABLED is true but no token issuer is configured: set DEEPLENS_AUTH_JWKS_URL "
                "(with DEEPLENS_AUTH_ISSUER) or DEEPLENS_AUTH_HS256_SECRET, or DEEPLENS_AUTH_API_KEYS_ONLY=true "
                "to accept API keys alone"
            )
        log.info("auth on: JWKS %s, HS256 %s, API keys", settings.auth_jwks_url or "off",
                 "on" if settings.auth_hs256_secret is not None else "off")
        return cls(enabled=True, tenant=settings.tenant, keys=ApiKeyStore(db), tokens=tokens)

    def authenticate(self, credential: str | None) -> Principal:
        """The principal of a bearer credential (None: the request carried none)."""
        if not self.enabled:
            return self._anonymous
        if not credential:
            raise Unauthenticated("missing_credential", "this request needs a bearer token or API key")
        if is_api_key(credential):
            assert self._keys is not None
            return self._keys.verify(credential)
        if self._tokens is None:
            raise Unauthenticated("invalid_token", "this service accepts API keys only")
        return self._tokens.verify(credential)
