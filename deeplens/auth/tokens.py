"""Verifying bearer JWTs with PyJWT: RS256/ES256 against a JWKS, HS256 with a shared secret.

Which key verifies a token is decided by the algorithm family the service is configured
for, never by the token alone: an RS256/ES256 token is only checked against the JWKS's key
with the token's ``kid`` (bound to that key's own algorithm, so an RSA public key is never
used as an HMAC secret), an HS256 token only against the configured secret, and anything
else (``none`` included) is refused before a key is looked up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWKClient

from deeplens.auth.errors import AuthMisconfigured, Unauthenticated
from deeplens.auth.principal import Principal, checked_tenant, parse_scopes
from deeplens.config import Settings

ASYMMETRIC = ("RS256", "ES256")
SYMMETRIC = ("HS256",)
#: Shortest HS256 secret accepted (RFC 7518 §3.2: a key at least as long as the hash).
MIN_SECRET_LENGTH = 32
_JWKS_TIMEOUT = 5.0


@dataclass(frozen=True)
class TokenPolicy:
    """What every token must carry, and where its tenant and scopes are."""

    audience: str
    issuer: str | None
    tenant_claim: str
    scope_claim: str
    leeway: int


class TokenVerifier:
    """Turns a bearer JWT into a :class:`Principal`, or raises :class:`Unauthenticated`."""

    def __init__(self, policy: TokenPolicy, *, jwks: PyJWKClient | None = None, secret: str | None = None) -> None:
        if jwks is None and secret is None:
            raise AuthMisconfigured("a token verifier needs a JWKS URL or an HS256 secret")
        if secret is not None and len(secret) < MIN_SECRET_LENGTH:
            raise AuthMisconfigured(f"DEEPLENS_AUTH_HS256_SECRET must be at least {MIN_SECRET_LENGTH} characters")
        self.policy = policy
        self._jwks = jwks
        self._secret = secret

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier | None:
        """The verifier the settings configure; None when they configure no token issuer."""
        secret = settings.auth_hs256_secret.get_secret_value() if settings.auth_hs256_secret is not None else None
        if not settings.auth_jwks_url and not secret:
            return None
        if settings.auth_jwks_url and not settings.auth_issuer:
            raise AuthMisconfigured("DEEPLENS_AUTH_JWKS_URL needs DEEPLENS_AUTH_ISSUER: tokens from a JWKS are "
                                    "accepted only from the issuer named")
        jwks = None
        if settings.auth_jwks_url:
            try:
                jwks = PyJWKClient(settings.auth_jwks_url, cache_jwk_set=True, lifespan=settings.auth_jwks_lifespan,
                                   cooldown_duration=settings.auth_jwks_cooldown, timeout=_JWKS_TIMEOUT)
            except jwt.PyJWKClientError as exc:
                raise AuthMisconfigured(f"DEEPLENS_AUTH_JWKS_URL: {exc}") from exc
        policy = TokenPolicy(audience=settings.auth_audience, issuer=settings.auth_issuer,
                             tenant_claim=settings.auth_tenant_claim, scope_claim=settings.auth_scope_claim,
                             leeway=settings.auth_leeway)
        return cls(policy, jwks=jwks, secret=secret or None)

    def verify(self, token: str) -> Principal:
        """The principal a valid token names (signature, ``exp``, ``aud`` and ``iss`` checked)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise Unauthenticated("invalid_token", "the bearer token is not a JWT") from exc
        alg = header.get("alg")
        key: Any
        if alg in ASYMMETRIC and self._jwks is not None:
            key = self._signing_key(header.get("kid"))
            algorithms = [key.algorithm_name]
        elif alg in SYMMETRIC and self._secret is not None:
            key, algorithms = self._secret, list(SYMMETRIC)
        else:
            raise Unauthenticated("invalid_token", f"tokens signed with {alg!r} are not accepted here")
        claims = self._decode(token, key, algorithms)
        tenant = checked_tenant(claims.get(self.policy.tenant_claim))
        return Principal(tenant=tenant, scopes=parse_scopes(claims.get(self.policy.scope_claim)),
                         subject=str(claims.get("sub", "")), kind="jwt")

    def _signing_key(self, kid: object) -> jwt.PyJWK:
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("invalid_token", "the token names no signing key (kid)")
        assert self._jwks is not None
        try:
            # An unknown kid makes the client fetch the JWKS again (at most once a cooldown): a rotated key.
            return self._jwks.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            raise Unauthenticated("jwks_unavailable", "the identity provider's keys cannot be fetched") from exc
        except jwt.PyJWKClientError as exc:
            raise Unauthenticated("invalid_token", "the token's signing key is not one the identity provider lists") from exc

    def _decode(self, token: str, key: Any, algorithms: list[str]) -> dict[str, Any]:
        required = ["exp", self.policy.tenant_claim, "aud"] + (["iss"] if self.policy.issuer else [])
        try:
            return jwt.decode(
                token, key, algorithms=algorithms, audience=self.policy.audience, issuer=self.policy.issuer,
                leeway=self.policy.leeway,
                options={"require": required, "enforce_minimum_key_length": True},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("expired_token", "the token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthenticated("invalid_token", "the token is not meant for this service (audience)") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthenticated("invalid_token", "the token comes from an issuer this service does not trust") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated("invalid_token", f"the token lacks the {exc.claim!r} claim") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated("invalid_token", "the token's signature or claims are invalid") from exc
