"""Search quality on real photos (scikit-image's samples) through the whole local pipeline.

The figures are in bench/search_quality.py; this pins the behaviour: every edited copy
finds its original first, and each ImageNet-concept query finds its photo first with the
default model, mobilenet_v2, which has no text tower.
"""

from __future__ import annotations

import pytest

from deeplens.errors import BadInput
from deeplens.runtime import LocalRuntime
from deeplens.search import SearchEngine, SearchOptions
from deeplens.search.evaluation import EDITS, ORIGINALS, TEXT_QUERIES, encode, photo

pytest.importorskip("skimage", reason="scikit-image provides the sample photos")

DISTRACTORS = ("camera", "coins", "moon")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, database_url, predictor):
    import uuid

    from deeplens.config import Settings
    from deeplens.db import Database
    from deeplens.pipeline.services import Services
    from deeplens.storage.factory import open_store

    settings = Settings(home=tmp_path_factory.mktemp("quality"), database_url=database_url,
                        tenant=f"q-{uuid.uuid4().hex[:8]}", backoff_delay=0.01)
    services = Services(settings, Database(database_url, max_size=4), open_store(settings), _embedder=predictor)
    runtime = LocalRuntime(settings, services=services)
    for name in ORIGINALS:
        image = photo(name)
        services.store.put(f"products/{settings.tenant}/{name}/original.png", encode(image))
        for edit, fn in EDITS.items():
            services.store.put(f"products/{settings.tenant}/{name}/{edit}.png", encode(fn(image)))
    for name in DISTRACTORS:
        services.store.put(f"products/{settings.tenant}/{name}/original.png", encode(photo(name)))
    assert runtime.broker.run_until_idle(tenant=settings.tenant, timeout=600)
    with services.db.pool.connection() as conn:
        rows = conn.execute("SELECT id, object_key FROM product_images WHERE tenant_id = %s", (settings.tenant,)).fetchall()
    # Keyed by <sku>/<photo>: the object key without its products/<tenant>/ prefix.
    yield SearchEngine(services), {r["object_key"].split("/", 2)[2]: r["id"] for r in rows}
    runtime.close()


@pytest.mark.parametrize("edit", list(EDITS))
def test_every_edited_copy_finds_its_original_first(indexed, edit):
    engine, ids = indexed
    for name in ORIGINALS:
        siblings = {ids[f"{name}/{e}.png"] for e in EDITS}
        hits = engine.similar("product_image", ids[f"{name}/{edit}.png"], SearchOptions(kind="products", limit=10))
        first_other = next(h for h in hits if h.id not in siblings)
        assert first_other.id == ids[f"{name}/original.png"], (name, edit, [h.key for h in hits[:5]])


def test_an_uploaded_copy_finds_itself_or_its_original_first(indexed):
    engine, _ = indexed
    hits = engine.by_image(encode(EDITS["crop"](photo("chelsea")), ".jpg"), SearchOptions(kind="products", limit=3))
    assert hits[0].product == "chelsea" and hits[0].score > 0.9


@pytest.mark.parametrize(("name", "query"), list(TEXT_QUERIES.items()))
def test_a_text_query_naming_an_imagenet_concept_finds_its_photo_first(indexed, name, query):
    engine, _ = indexed
    hits = engine.by_text(query, SearchOptions(kind="products", limit=5))
    assert hits[0].product == name, [(h.product, h.score, h.classes) for h in hits]


def test_text_hits_say_which_of_the_query_classes_they_show(indexed):
    engine, _ = indexed
    hits = engine.by_text("cup of coffee", SearchOptions(kind="products", limit=1))
    assert "espresso" in hits[0].classes


def test_a_text_query_that_names_no_class_is_an_error_not_noise(indexed):
    engine, _ = indexed
    with pytest.raises(BadInput) as err:
        engine.by_text("xyzzy", SearchOptions())
    assert err.value.reason == "no_matching_class"


def test_a_minimum_score_drops_weak_text_matches(indexed):
    engine, _ = indexed
    everything = engine.by_text("rocket", SearchOptions(kind="products", limit=50))
    cut = everything[len(everything) // 2].score + 1e-4
    strong = engine.by_text("rocket", SearchOptions(kind="products", limit=50, min_score=cut))
    assert strong and len(strong) < len(everything) and all(h.score >= cut for h in strong)
