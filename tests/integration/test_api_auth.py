"""The results service with auth on: who gets in (401), who may do what (403), what stays public, and
a service that cannot verify credentials refusing to start."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import timedelta

import jwt
import pytest
from authkit import AUDIENCE, ISSUER, JwksServer, bearer, claims, mint, rsa_key
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from deeplens.api import create_app
from deeplens.auth import Authenticator, AuthMisconfigured
from deeplens.auth.keys import ApiKeyStore
from deeplens.cli.main import main
from deeplens.config import Settings
from deeplens.db import Database
from deeplens.pipeline.services import Services
from deeplens.storage.factory import open_store
from eventing.delivery import DeliverySpec
from eventing.queue import DeliveryQueue

PUBLIC = {"/health", "/ready", "/metrics", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc", "/"}
DEV_SECRET = "a-development-secret-32-chars-long!"


@pytest.fixture(scope="module")
def signing_key():
    return rsa_key("api-1")


@pytest.fixture(scope="module")
def jwks(signing_key):
    with JwksServer([signing_key]) as server:
        yield server


@pytest.fixture(scope="module")
def auth_settings(tmp_path_factory, database_url, jwks):
    return Settings(home=tmp_path_factory.mktemp("auth"), database_url=database_url, tenant="unused-default",
                    auth_enabled=True, auth_jwks_url=jwks.url, auth_issuer=ISSUER, auth_audience=AUDIENCE,
                    auth_hs256_secret=DEV_SECRET)


@pytest.fixture(scope="module")
def services(auth_settings, predictor):
    services = Services(auth_settings, Database(auth_settings.database_url, max_size=2), open_store(auth_settings),
                        _embedder=predictor)
    yield services
    services.close()


@pytest.fixture(scope="module")
def app(services):
    queue = DeliveryQueue(services.db.pool, DeliverySpec.from_settings(services.settings))
    return create_app(services, queue)


@pytest.fixture(scope="module")
def client(app):
    return TestClient(app)


@pytest.fixture
def tenant():
    return f"auth-{uuid.uuid4().hex[:8]}"


def token(signing_key, tenant: str, scope: str) -> dict[str, str]:
    return bearer(mint(signing_key, claims(tenant, scope)))


def routes(app) -> list[APIRoute]:
    return [r for r in app.routes if isinstance(r, APIRoute) and r.path not in PUBLIC]


def concrete(path: str) -> str:
    """A path with its parameters filled in."""
    return re.sub(r"\{[^}]+\}", "1", path.replace("{kind}", "frame"))


def test_a_request_without_a_credential_is_401_with_a_bearer_challenge(client):
    response = client.get("/products")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"] == "missing_credential"


def test_an_invalid_token_is_401_in_the_error_shape(client):
    response = client.get("/products", headers=bearer("not.a.token"))
    assert response.status_code == 401
    assert set(response.json()) == {"error", "detail"}
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_every_data_route_answers_401_without_a_credential(app, client):
    for route in routes(app):
        for method in route.methods:
            assert client.request(method, concrete(route.path)).status_code == 401, (method, route.path)


def test_health_metrics_the_docs_the_schema_and_the_gallery_shell_are_public(client):
    for path in ("/health", "/ready", "/metrics", "/docs", "/openapi.json", "/", "/static/app.js"):
        assert client.get(path).status_code == 200, path


def test_the_openapi_schema_documents_401_and_403_on_every_authenticated_route(app, client):
    paths = client.get("/openapi.json").json()["paths"]
    for route in routes(app):
        for method in route.methods:
            documented = paths[route.path_format][method.lower()]["responses"]
            assert {"401", "403"} <= set(documented), (method, route.path)


def test_a_token_without_the_scope_a_route_needs_is_403(client, signing_key, tenant):
    response = client.post("/rematch", headers=token(signing_key, tenant, "read"))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert 'scope="write"' in response.headers["www-authenticate"]


def test_removing_a_product_needs_the_write_scope(client, signing_key, tenant):
    assert client.delete("/products/SKU-1", headers=token(signing_key, tenant, "read")).status_code == 403
    response = client.delete("/products/SKU-1", headers=token(signing_key, tenant, "write"))
    assert (response.status_code, response.json()["error"]) == (404, "not_found")


def test_dead_letters_need_the_admin_scope(client, signing_key, tenant):
    assert client.get("/dead-letters", headers=token(signing_key, tenant, "read write")).status_code == 403
    assert client.get("/dead-letters", headers=token(signing_key, tenant, "admin")).json() == []


def test_a_read_token_lists_its_tenants_products(client, signing_key, tenant):
    assert client.get("/products", headers=token(signing_key, tenant, "read")).json()["total"] == 0


def test_an_hs256_development_token_is_accepted(client, tenant):
    dev = jwt.encode(claims(tenant, "read"), DEV_SECRET, algorithm="HS256")
    assert client.get("/products", headers=bearer(dev)).status_code == 200


def test_an_api_key_is_honoured_with_its_scopes(client, services, tenant):
    _, key = ApiKeyStore(services.db).create(tenant, ["read"], expires_in=timedelta(days=1))
    assert client.get("/videos", headers=bearer(key)).status_code == 200
    assert client.post("/rematch", headers=bearer(key)).status_code == 403


def test_a_revoked_api_key_is_401(client, services, tenant):
    store = ApiKeyStore(services.db)
    created, key = store.create(tenant, ["read"], expires_in=timedelta(days=1))
    store.revoke(created.id)
    response = client.get("/videos", headers=bearer(key))
    assert (response.status_code, response.json()["error"]) == (401, "revoked_api_key")


def test_a_second_rematch_while_one_is_pending_is_409(client, signing_key, tenant):
    headers = token(signing_key, tenant, "write")
    assert client.post("/rematch", headers=headers).status_code == 202
    second = client.post("/rematch", headers=headers)
    assert (second.status_code, second.json()["error"]) == (409, "rematch_pending")


def test_one_tenants_pending_rematch_does_not_hold_up_anothers(client, signing_key, tenant):
    assert client.post("/rematch", headers=token(signing_key, tenant, "write")).status_code == 202
    assert client.post("/rematch", headers=token(signing_key, f"{tenant}-other", "write")).status_code == 202


def test_a_service_with_auth_on_and_no_token_issuer_refuses_to_start(services):
    bare = services.settings.model_copy(update={"auth_jwks_url": None, "auth_hs256_secret": None})
    with pytest.raises(AuthMisconfigured, match="DEEPLENS_AUTH_JWKS_URL"):
        Authenticator.from_settings(bare, services.db)


def test_deeplens_serve_with_auth_on_and_nothing_configured_exits_with_a_clear_error(monkeypatch, tmp_path, database_url):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DEEPLENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DEEPLENS_AUTH_ENABLED", "true")
    with pytest.raises(SystemExit, match="refusing to start.*DEEPLENS_AUTH_JWKS_URL"):
        main(["serve", "--no-workers"])


def test_api_keys_alone_are_accepted_when_explicitly_meant(services):
    keys_only = services.settings.model_copy(update={"auth_jwks_url": None, "auth_hs256_secret": None,
                                                     "auth_api_keys_only": True})
    assert Authenticator.from_settings(keys_only, services.db).enabled


def test_with_auth_off_every_request_is_the_configured_tenant_with_every_scope(services):
    off = services.settings.model_copy(update={"auth_enabled": False, "tenant": "laptop"})
    principal = Authenticator.from_settings(off, services.db).authenticate(None)
    assert (principal.tenant, principal.scopes) == ("laptop", {"read", "write", "admin"})


def test_a_failed_login_logs_nothing_of_the_credential_or_the_secret(client, services, signing_key, tenant, caplog):
    forged = jwt.encode(claims(tenant, "admin"), "a-guessed-secret-that-is-long-enough!", algorithm="HS256")
    _, key = ApiKeyStore(services.db).create(tenant, ["read"], expires_in=timedelta(days=1))
    with caplog.at_level(logging.DEBUG):
        wrong_key = key[:-1] + ("A" if key[-1] != "A" else "B")
        for credential in (forged, wrong_key, mint(signing_key, claims(tenant, expires_in=-600))):
            assert client.get("/products", headers=bearer(credential)).status_code == 401
    assert not any(secret in caplog.text for secret in (forged, key, key[:-1], DEV_SECRET))


def test_the_dev_secret_never_shows_in_the_settings_repr(services):
    assert DEV_SECRET not in repr(services.settings) and DEV_SECRET not in str(services.settings.model_dump())


def test_an_admin_creates_lists_and_revokes_its_tenants_keys_through_the_api(client, signing_key, tenant):
    admin = token(signing_key, tenant, "admin")
    created = client.post("/keys", headers=admin, json={"scopes": ["read"], "name": "export"}).json()
    assert client.get("/products", headers=bearer(created["key"])).status_code == 200
    assert [k["id"] for k in client.get("/keys", headers=admin).json()] == [created["id"]]
    assert "key" not in client.get("/keys", headers=admin).json()[0]
    assert client.delete(f"/keys/{created['id']}", headers=admin).status_code == 204
    assert client.get("/products", headers=bearer(created["key"])).status_code == 401


def test_an_admin_cannot_see_or_revoke_another_tenants_keys(client, signing_key, tenant):
    theirs = client.post("/keys", headers=token(signing_key, f"{tenant}-other", "admin"), json={"scopes": ["read"]}).json()
    mine = token(signing_key, tenant, "admin")
    assert client.get("/keys", headers=mine).json() == []
    assert client.delete(f"/keys/{theirs['id']}", headers=mine).status_code == 404
    assert client.get("/products", headers=bearer(theirs["key"])).status_code == 200


def test_keys_need_the_admin_scope(client, signing_key, tenant):
    assert client.post("/keys", headers=token(signing_key, tenant, "read write"), json={"scopes": ["admin"]}).status_code == 403
