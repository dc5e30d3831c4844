"""``deeplens index build`` and the snapshot ``deeplens ingest --wait`` saves."""

from __future__ import annotations

import numpy as np
import pytest

from deeplens.cli.main import main as deeplens
from deeplens.db.catalog_snapshots import latest_snapshot
from deeplens.matching.catalog_index import snapshot_name
from deeplens.matching.vocabulary import load_vocabulary
from deeplens.vision.local_features import LocalFeatures


def features() -> LocalFeatures:
    rng = np.random.default_rng()
    return LocalFeatures(points=rng.uniform(0, 300, size=(40, 2)).astype(np.float32),
                         descriptors=rng.integers(0, 64, size=(40, 128)).astype(np.float32), width=300, height=300, kind="sift")


@pytest.fixture
def cli_env(runtime, monkeypatch):
    """Points the CLI at this test's database, home and tenant."""
    s = runtime.settings
    for name, value in {"DEEPLENS_HOME": s.home, "DATABASE_URL": s.database_url, "DEEPLENS_TENANT": s.tenant}.items():
        monkeypatch.setenv(name, str(value))
    return runtime


def snapshot(runtime, tenant: str | None = None):
    with runtime.services.db.pool.connection() as conn:
        return latest_snapshot(conn, tenant or runtime.settings.tenant, snapshot_name(load_vocabulary()))


def test_ingest_wait_saves_the_catalog_index_when_it_uploaded_products(cli_env, folder):
    assert deeplens(["ingest", str(folder), "--wait"]) == 0
    saved = snapshot(cli_env)
    assert saved is not None and saved.photos == 1
    assert cli_env.services.store.head(saved.object_key) is not None


def test_index_build_saves_only_when_enough_photos_changed(cli_env, index_front_photo, capsys):
    index_front_photo("SKU-A", features())
    assert deeplens(["index", "build"]) == 0
    first = snapshot(cli_env)
    index_front_photo("SKU-B", features())
    assert deeplens(["index", "build", "--if-stale", "2"]) == 0
    assert snapshot(cli_env) == first and "left as it is" in capsys.readouterr().out
    assert deeplens(["index", "build", "--if-stale", "1"]) == 0
    assert snapshot(cli_env).photos == 2


def test_index_build_of_all_tenants_covers_each_tenant_with_a_catalog(cli_env, index_front_photo, capsys):
    index_front_photo("SKU-A", features())
    assert deeplens(["index", "build", "--all-tenants"]) == 0
    assert snapshot(cli_env).photos == 1
    assert cli_env.settings.tenant in capsys.readouterr().out


def test_index_build_refuses_a_threshold_below_one(cli_env):
    with pytest.raises(SystemExit, match="at least 1"):
        deeplens(["index", "build", "--if-stale", "0"])


def test_the_features_step_stores_each_photos_catalog_words(cli_env, folder):
    assert deeplens(["ingest", str(folder)]) == 0
    assert cli_env.broker.run_until_idle(tenant=cli_env.settings.tenant, timeout=120)
    with cli_env.services.db.pool.connection() as conn:
        row = conn.execute("SELECT count, words, words_vocabulary FROM local_features WHERE tenant_id = %s AND item_kind = 'product_image'",
                           (cli_env.settings.tenant,)).fetchone()
    assert row["words_vocabulary"] == load_vocabulary().name and len(row["words"]) == 2 * row["count"]
