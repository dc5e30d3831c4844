"""API keys: created with a random secret stored only as its hash, scoped, expiring, revocable; by library and CLI."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta

import pytest

from deeplens.auth import Unauthenticated
from deeplens.auth.keys import ApiKeyStore, hash_secret
from deeplens.cli.main import main
from deeplens.db import Database
from deeplens.errors import BadInput


@pytest.fixture(scope="module")
def db(database_url):
    db = Database(database_url, max_size=2)
    yield db
    db.close()


@pytest.fixture
def store(db):
    return ApiKeyStore(db)


@pytest.fixture
def tenant():
    return f"keys-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def cli_env(monkeypatch, tmp_path, database_url, tenant):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DEEPLENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DEEPLENS_TENANT", tenant)


def refusal(store: ApiKeyStore, plaintext: str) -> str:
    with pytest.raises(Unauthenticated) as refused:
        store.verify(plaintext)
    return refused.value.code


def test_a_created_key_authenticates_as_its_tenant_with_its_scopes(store, tenant):
    key, plaintext = store.create(tenant, ["read", "write"], expires_in=timedelta(days=1))
    principal = store.verify(plaintext)
    assert (principal.tenant, principal.scopes, principal.kind, principal.subject) == (
        tenant, {"read", "write"}, "api_key", f"api-key:{key.id}")


def test_only_the_hash_of_a_key_is_stored(store, db, tenant):
    key, plaintext = store.create(tenant, ["read"], expires_in=timedelta(days=1))
    with db.pool.connection() as conn:
        row = conn.execute("SELECT * FROM api_keys WHERE id = %s", (key.id,)).fetchone()
    assert row["secret_sha256"] == hash_secret(plaintext)
    assert not any(plaintext in str(value) for value in row.values())


def test_listings_show_a_keys_prefix_but_never_its_secret(store, tenant):
    _, plaintext = store.create(tenant, ["read"], expires_in=timedelta(days=1), name="nightly export")
    (listed,) = store.list(tenant)
    assert (listed.name, plaintext.startswith(listed.prefix), len(listed.prefix) < len(plaintext) // 4) == (
        "nightly export", True, True)
    assert plaintext not in repr(listed)


def test_an_expired_key_is_refused(store, db, tenant):
    key, plaintext = store.create(tenant, ["read"], expires_in=timedelta(days=1))
    with db.transaction() as conn:
        conn.execute("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = %s", (key.id,))
    assert refusal(store, plaintext) == "expired_api_key"


def test_a_revoked_key_is_refused(store, tenant):
    key, plaintext = store.create(tenant, ["read"], expires_in=timedelta(days=1))
    assert store.revoke(key.id)
    assert refusal(store, plaintext) == "revoked_api_key"


def test_an_unknown_key_is_refused(store):
    assert refusal(store, "dlk_" + "x" * 43) == "invalid_api_key"


def test_a_key_of_another_tenant_cannot_be_revoked_in_the_name_of_this_one(store, tenant):
    key, plaintext = store.create(tenant, ["read"], expires_in=timedelta(days=1))
    assert not store.revoke(key.id, tenant="someone-else")
    assert store.verify(plaintext).tenant == tenant


@pytest.mark.parametrize("scopes", [[], ["root"], ["read", "sudo"]])
def test_a_key_needs_known_scopes(store, tenant, scopes):
    with pytest.raises(BadInput):
        store.create(tenant, scopes, expires_in=timedelta(days=1))


def test_a_key_must_expire_in_the_future(store, tenant):
    with pytest.raises(BadInput):
        store.create(tenant, ["read"], expires_in=timedelta(0))


def test_the_cli_creates_a_key_that_it_prints_once(cli_env, capsys, store, tenant):
    assert main(["keys", "create", "--scope", "read", "--scope", "admin", "--name", "ci"]) == 0
    plaintext = capsys.readouterr().out.strip()
    assert store.verify(plaintext).scopes == {"read", "admin"}


def test_the_cli_lists_a_tenants_keys_with_their_state(cli_env, capsys, store, tenant):
    store.create(tenant, ["read"], expires_in=timedelta(days=1))
    revoked, _ = store.create(tenant, ["write"], expires_in=timedelta(days=1))
    store.revoke(revoked.id)
    assert main(["keys", "list", "--tenant", tenant, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(k["scopes"], k["state"]) for k in listed] == [(["read"], "active"), (["write"], "revoked")]
    assert all("secret_sha256" not in k for k in listed)


def test_the_cli_revokes_a_key(cli_env, store, tenant):
    key, plaintext = store.create(tenant, ["read"], expires_in=timedelta(days=1))
    assert main(["keys", "revoke", str(key.id)]) == 0
    assert refusal(store, plaintext) == "revoked_api_key"


def test_creating_a_key_logs_nothing_of_its_secret(cli_env, capsys, caplog):
    with caplog.at_level(logging.DEBUG):
        main(["-v", "keys", "create", "--scope", "read"])
    plaintext = capsys.readouterr().out.strip()
    assert plaintext and plaintext not in caplog.text
