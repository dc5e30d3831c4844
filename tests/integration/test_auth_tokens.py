"""Bearer JWTs verified against a real JWKS served over HTTP on a loopback port (and an HS256 dev secret)."""

from __future__ import annotations

import jwt
import pytest
from authkit import AUDIENCE, ISSUER, JwksServer, claims, ec_key, forged, mint, rsa_key

from deeplens.auth import AuthMisconfigured, Unauthenticated
from deeplens.auth.tokens import TokenVerifier
from deeplens.config import Settings

DEV_SECRET = "dev-secret-of-at-least-thirty-two-chars"


@pytest.fixture(scope="module")
def rsa():
    return rsa_key("rsa-1")


@pytest.fixture(scope="module")
def es():
    return ec_key("ec-1")


@pytest.fixture
def jwks(rsa, es):
    with JwksServer([rsa, es]) as server:
        yield server


def verifier_for(**settings) -> TokenVerifier:
    defaults = {"auth_issuer": ISSUER, "auth_audience": AUDIENCE, "auth_jwks_cooldown": 0}
    verifier = TokenVerifier.from_settings(Settings(auth_enabled=True, **(defaults | settings)))
    assert verifier is not None
    return verifier


@pytest.fixture
def verifier(jwks):
    return verifier_for(auth_jwks_url=jwks.url)


def refused(verifier: TokenVerifier, token: str) -> str:
    """The error code a refused token gets."""
    with pytest.raises(Unauthenticated) as refusal:
        verifier.verify(token)
    return refusal.value.code


def test_a_valid_rs256_token_names_its_tenant_subject_and_scopes(verifier, rsa):
    principal = verifier.verify(mint(rsa, claims("acme", "read write")))
    assert (principal.tenant, principal.scopes, principal.subject, principal.kind) == (
        "acme", frozenset({"read", "write"}), "user-of-acme", "jwt")


def test_a_valid_es256_token_is_accepted(verifier, es):
    assert verifier.verify(mint(es, claims("acme"))).tenant == "acme"


def test_scopes_may_come_as_a_list_and_unknown_ones_are_dropped(verifier, rsa):
    assert verifier.verify(mint(rsa, claims("acme", ["read", "root"]))).scopes == {"read"}


def test_the_tenant_and_scope_claims_are_configurable(jwks, rsa):
    custom = verifier_for(auth_jwks_url=jwks.url, auth_tenant_claim="org", auth_scope_claim="permissions")
    token = mint(rsa, claims("ignored", "read") | {"org": "globex", "permissions": ["admin"]})
    assert (custom.verify(token).tenant, custom.verify(token).scopes) == ("globex", {"admin"})


def test_an_expired_token_is_refused(verifier, rsa):
    assert refused(verifier, mint(rsa, claims("acme", expires_in=-120))) == "expired_token"


def test_a_token_expired_within_the_allowed_clock_skew_is_accepted(verifier, rsa):
    assert verifier.verify(mint(rsa, claims("acme", expires_in=-5))).tenant == "acme"


def test_a_token_without_an_expiry_is_refused(verifier, rsa):
    payload = claims("acme")
    del payload["exp"]
    assert refused(verifier, mint(rsa, payload)) == "invalid_token"


def test_a_token_for_another_audience_is_refused(verifier, rsa):
    assert refused(verifier, mint(rsa, claims("acme", aud="some-other-api"))) == "invalid_token"


def test_a_token_from_another_issuer_is_refused(verifier, rsa):
    assert refused(verifier, mint(rsa, claims("acme", iss="https://evil.example"))) == "invalid_token"


def test_a_token_without_a_tenant_is_refused(verifier, rsa):
    payload = claims("acme")
    del payload["tenant"]
    assert refused(verifier, mint(rsa, payload)) == "invalid_token"


def test_a_tenant_that_is_not_a_plain_name_is_refused(verifier, rsa):
    assert refused(verifier, mint(rsa, claims("../acme"))) == "invalid_token"


def test_a_key_rotated_in_after_start_is_fetched_on_its_unknown_kid(verifier, jwks, rsa):
    verifier.verify(mint(rsa, claims("acme")))
    rotated = rsa_key("rsa-2")
    jwks.publish([rotated])
    assert verifier.verify(mint(rotated, claims("acme"))).tenant == "acme"
    assert jwks.fetches == 2


def test_a_kid_the_jwks_does_not_list_is_refused(verifier):
    assert refused(verifier, mint(rsa_key("never-published"), claims("acme"))) == "invalid_token"


def test_unknown_kids_refresh_the_jwks_at_most_once_a_cooldown(jwks, rsa):
    verifier = verifier_for(auth_jwks_url=jwks.url, auth_jwks_cooldown=60)
    verifier.verify(mint(rsa, claims("acme")))
    for n in range(3):
        refused(verifier, mint(rsa_key(f"made-up-{n}"), claims("acme")))
    assert jwks.fetches == 1


def test_an_unsigned_alg_none_token_is_refused(verifier, rsa):
    token = forged({"alg": "none", "typ": "JWT", "kid": rsa.kid}, claims("acme", "read write admin"))
    assert refused(verifier, token) == "invalid_token"


def test_an_hs256_token_signed_with_the_rsa_public_key_is_refused(verifier, rsa):
    token = forged({"alg": "HS256", "typ": "JWT", "kid": rsa.kid}, claims("acme", "admin"), hmac_key=rsa.public_pem())
    assert refused(verifier, token) == "invalid_token"


def test_an_hs256_token_signed_with_the_rsa_public_key_is_refused_beside_a_dev_secret_too(jwks, rsa):
    both = verifier_for(auth_jwks_url=jwks.url, auth_hs256_secret=DEV_SECRET)
    token = forged({"alg": "HS256", "typ": "JWT", "kid": rsa.kid}, claims("acme", "admin"), hmac_key=rsa.public_pem())
    assert refused(both, token) == "invalid_token"


def test_an_rs256_token_is_refused_where_only_a_dev_secret_is_configured(rsa):
    assert refused(verifier_for(auth_hs256_secret=DEV_SECRET), mint(rsa, claims("acme"))) == "invalid_token"


def test_an_hs256_token_signed_with_the_dev_secret_is_accepted():
    token = jwt.encode(claims("acme", "write"), DEV_SECRET, algorithm="HS256")
    assert verifier_for(auth_hs256_secret=DEV_SECRET).verify(token).scopes == {"write"}


def test_a_dev_secret_shorter_than_32_characters_is_refused_at_start():
    with pytest.raises(AuthMisconfigured, match="32"):
        verifier_for(auth_hs256_secret="short")


def test_a_jwks_url_without_an_issuer_is_refused_at_start(jwks):
    with pytest.raises(AuthMisconfigured, match="DEEPLENS_AUTH_ISSUER"):
        TokenVerifier.from_settings(Settings(auth_enabled=True, auth_jwks_url=jwks.url))


def test_a_clock_skew_above_five_minutes_is_not_a_valid_setting():
    with pytest.raises(ValueError):
        Settings(auth_leeway=301)
