"""The search verbs of the ``deeplens`` command: search, models, duplicates, reindex."""

from __future__ import annotations

import json

import pytest

from deeplens.cli.main import main as deeplens
from deeplens.search.evaluation import encode, photo

pytest.importorskip("skimage", reason="scikit-image provides the sample photos")


@pytest.fixture
def indexed(runtime, monkeypatch, tmp_path):
    """Three photos indexed under the test's tenant, and the environment that points the CLI at them."""
    for name in ("coffee", "chelsea", "rocket"):
        runtime.services.store.put(f"products/{runtime.settings.tenant}/{name}/{name}.png", encode(photo(name)))
    # The same picture as a JPEG: the same bytes under a second product would be refused as a duplicate upload.
    runtime.services.store.put(f"products/{runtime.settings.tenant}/coffee-again/coffee.jpg", encode(photo("coffee"), ".jpg"))
    assert runtime.broker.run_until_idle(tenant=runtime.settings.tenant, timeout=300)
    s = runtime.settings
    for name, value in {"DEEPLENS_HOME": s.home, "DATABASE_URL": s.database_url, "DEEPLENS_TENANT": s.tenant}.items():
        monkeypatch.setenv(name, str(value))
    query = tmp_path / "query.jpg"
    query.write_bytes(encode(photo("chelsea"), ".jpg"))
    return query


def run_json(capsys, *argv: str):
    assert deeplens(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_search_by_image_prints_ranked_json_hits(indexed, capsys):
    hits = run_json(capsys, "search", "--image", str(indexed), "--json")
    assert hits[0]["product"] == "chelsea" and {"kind", "id", "score", "key", "image_url"} <= set(hits[0])


def test_search_by_text_prints_ranked_json_hits(indexed, capsys):
    hits = run_json(capsys, "search", "--text", "cup of coffee", "--json", "-k", "2")
    assert {h["product"] for h in hits} == {"coffee", "coffee-again"} and hits[0]["classes"][0] == "espresso"


def test_search_more_like_an_indexed_item(indexed, capsys):
    first = run_json(capsys, "search", "--text", "cat", "--json", "-k", "1")[0]
    hits = run_json(capsys, "search", "--similar", f"product_image:{first['id']}", "--json")
    assert first["id"] not in [h["id"] for h in hits] and len(hits) == 3


def test_a_text_that_names_nothing_exits_with_the_reason(indexed):
    with pytest.raises(SystemExit, match="no_matching_class"):
        deeplens(["search", "--text", "xyzzy"])


def test_models_lists_the_default_model_with_its_counts(indexed, capsys):
    models = {m["name"]: m for m in run_json(capsys, "models", "--json")}
    assert models["mobilenet_v2"]["indexed"] == {"product_image": 4} and models["mobilenet_v2"]["text_search"] == "classes"


def test_duplicates_lists_the_photo_uploaded_twice(indexed, capsys):
    page = run_json(capsys, "duplicates", "--threshold", "0.99", "--json")
    assert page["total"] == 1 and {page["items"][0]["a"]["product"], page["items"][0]["b"]["product"]} == {"coffee", "coffee-again"}


def test_reindex_of_a_model_with_everything_indexed_has_nothing_to_do(indexed, capsys):
    assert deeplens(["reindex", "--model", "mobilenet_v2"]) == 0
    assert "0 embedded" in capsys.readouterr().out


def test_reindex_of_an_unknown_model_exits_with_the_reason(indexed):
    with pytest.raises(SystemExit, match="unknown model"):
        deeplens(["reindex", "--model", "no-such-model"])
