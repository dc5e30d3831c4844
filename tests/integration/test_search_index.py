"""Search over a changing index: cache invalidation, duplicates, class scores, reindex, several models."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from openclipkit import TINY_CLIP, save_open_clip_checkpoint

from deeplens.db import Database
from deeplens.errors import NotFound, Unsupported
from deeplens.pipeline.services import Services
from deeplens.runtime import LocalRuntime
from deeplens.search import SearchEngine, SearchOptions
from deeplens.search.embedders import EmbedderPool
from deeplens.search.evaluation import encode, photo
from deeplens.search.models import list_models, model_spec
from deeplens.search.reindex import pending_count, reindex
from deeplens.storage.factory import open_store
from inference.local_embedder import LocalEmbedder

pytest.importorskip("skimage", reason="scikit-image provides the sample photos")

CLIP = "open_clip:tiny-search"


def upload(runtime: LocalRuntime, *names: str, sku: str | None = None, ext: str = ".png") -> None:
    for name in names:
        runtime.services.store.put(f"products/{runtime.settings.tenant}/{sku or name}/{name}{ext}", encode(photo(name), ext))
    assert runtime.broker.run_until_idle(tenant=runtime.settings.tenant, timeout=300)


def product_ids(runtime: LocalRuntime) -> dict[str, int]:
    with runtime.services.db.pool.connection() as conn:
        rows = conn.execute("SELECT id, object_key FROM product_images WHERE tenant_id = %s", (runtime.settings.tenant,)).fetchall()
    return {r["object_key"]: r["id"] for r in rows}


class ImageOnlyEmbedder:
    """An embedder with no classifier: embeddings only."""

    def __init__(self, predictor: LocalEmbedder) -> None:
        self._predictor = predictor

    @property
    def model_name(self) -> str:
        return self._predictor.model_name

    supports_classify = False

    def embed_images(self, images):
        return self._predictor.embed_images(images)

    def embed_and_classify(self, images):
        raise AssertionError("an embedder without a classifier is never asked for classes")


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return save_open_clip_checkpoint("tiny-search", tmp_path_factory.mktemp("models") / "tiny-search", seed=1, **TINY_CLIP)


@pytest.fixture
def clip_env(settings, clip_dir):
    """The test's settings name the checkpoint directory, as DEEPLENS_MODEL_DIR would."""
    settings.model_dir = clip_dir
    return clip_dir


# --- caching and the index generation -----------------------------------------------------------


def test_a_repeated_search_is_served_from_the_cache(runtime):
    upload(runtime, "coffee", "chelsea")
    engine = SearchEngine(runtime.services)
    first = engine.by_text("cat", SearchOptions())
    hits_before = engine.cache.hits
    assert engine.by_text("cat", SearchOptions()) == first and engine.cache.hits > hits_before


def test_a_new_upload_invalidates_cached_results(runtime):
    upload(runtime, "coffee")
    engine = SearchEngine(runtime.services)
    assert [h.product for h in engine.by_text("cat", SearchOptions())] == []
    upload(runtime, "chelsea")
    assert [h.product for h in engine.by_text("cat", SearchOptions())] == ["chelsea"]


def test_the_same_picture_saved_again_under_a_second_product_is_a_near_duplicate_pair(runtime):
    upload(runtime, "coffee", "rocket")
    # As a JPEG: the very same bytes under a second product are refused at upload (duplicate_of_other_product).
    upload(runtime, "coffee", sku="coffee-again", ext=".jpg")
    page = SearchEngine(runtime.services).duplicates(0.99)
    assert page.total == 1 and {page.items[0].a.product, page.items[0].b.product} == {"coffee", "coffee-again"}


# --- class scores ---------------------------------------------------------------------------------


def test_indexing_stores_the_top_k_class_scores_of_each_photo(runtime):
    upload(runtime, "coffee")
    with runtime.services.db.pool.connection() as conn:
        row = conn.execute("SELECT class_ids, probs FROM class_scores WHERE tenant_id = %s", (runtime.settings.tenant,)).fetchone()
    assert len(row["class_ids"]) == runtime.settings.class_top_k and row["class_ids"][0] == 967  # espresso
    assert row["probs"] == sorted(row["probs"], reverse=True)


@pytest.fixture
def image_only_runtime(settings, predictor):
    services = Services(settings, Database(settings.database_url, max_size=4), open_store(settings),
                        _embedder=ImageOnlyEmbedder(predictor))
    runtime = LocalRuntime(settings, services=services)
    yield runtime
    runtime.close()


def test_a_predictor_that_cannot_classify_indexes_without_class_scores_and_text_search_says_so(image_only_runtime):
    upload(image_only_runtime, "chelsea")
    engine = SearchEngine(image_only_runtime.services)
    assert engine.by_image(encode(photo("chelsea")), SearchOptions())[0].product == "chelsea"
    with pytest.raises(Unsupported, match="reindex"):
        engine.by_text("cat", SearchOptions())


def test_reindex_with_the_in_process_predictor_adds_the_missing_class_scores(image_only_runtime, predictor):
    upload(image_only_runtime, "chelsea")
    s = image_only_runtime.services
    in_process = Services(s.settings, s.db, s.store, _embedder=predictor)
    report = reindex(in_process, "mobilenet_v2")
    assert (report.done, report.failed) == (1, 0)
    assert [h.product for h in SearchEngine(in_process).by_text("cat", SearchOptions())] == ["chelsea"]


# --- several models -------------------------------------------------------------------------------


def test_reindex_backfills_another_model_for_every_indexed_photo(runtime, clip_env):
    upload(runtime, "coffee", "chelsea", "rocket")
    assert pending_count(runtime.services, CLIP) == 3
    report = reindex(runtime.services, CLIP, batch_size=2)
    assert (report.total, report.done, report.failed) == (3, 3, 0) and pending_count(runtime.services, CLIP) == 0


def test_reindex_resumes_where_a_stopped_run_left_off(runtime, clip_env):
    upload(runtime, "coffee", "chelsea", "rocket")
    stop = threading.Event()
    first = reindex(runtime.services, CLIP, batch_size=1, on_progress=lambda r: stop.set() if r.done else None, stop=stop)
    second = reindex(runtime.services, CLIP, batch_size=1)
    third = reindex(runtime.services, CLIP, batch_size=1)
    assert (first.done, second.done, third.total) == (1, 2, 0)


def test_models_list_how_many_items_each_model_has_indexed(runtime, clip_env):
    upload(runtime, "coffee", "chelsea")
    reindex(runtime.services, CLIP)
    models = {m.name: m for m in list_models(runtime.services)}
    assert models["mobilenet_v2"].indexed == {"product_image": 2} and models["mobilenet_v2"].default
    assert models[CLIP].indexed_total == 2 and models[CLIP].dim == 32 and models[CLIP].text_search == "text_tower"


def test_search_by_image_takes_the_model_to_search_with(runtime, clip_env):
    upload(runtime, "coffee", "chelsea")
    reindex(runtime.services, CLIP)
    hits = SearchEngine(runtime.services).by_image(encode(photo("chelsea")), SearchOptions(model=CLIP))
    assert hits[0].product == "chelsea" and hits[0].score > 0.99


def test_text_search_with_an_open_clip_model_uses_its_text_tower(runtime, clip_env):
    upload(runtime, "coffee", "chelsea")
    pool = EmbedderPool(runtime.services)
    reindex(runtime.services, CLIP, embedders=pool)
    hits = SearchEngine(runtime.services, embedders=pool).by_text("a cat", SearchOptions(model=CLIP))
    text = pool.get(CLIP).embed_texts(["a cat"])[0]
    with runtime.services.db.pool.connection() as conn:
        from deeplens.db.vectors import get_embedding

        stored = get_embedding(conn, runtime.settings.tenant, "product_image", hits[0].id, CLIP)
    assert hits[0].classes is None and hits[0].score == pytest.approx(float(np.dot(text, stored)), abs=1e-3)


def test_searching_a_model_that_indexed_nothing_says_how_to_backfill_it(runtime, clip_env):
    upload(runtime, "coffee")
    engine = SearchEngine(runtime.services)
    ids = product_ids(runtime)
    with pytest.raises(NotFound, match="reindex"):
        engine.similar("product_image", next(iter(ids.values())), SearchOptions(model="open_clip:ViT-L-14"))


def test_warming_the_engine_embeds_the_default_models_class_texts_before_any_query(runtime):
    engine = SearchEngine(runtime.services)
    mapper = engine.mappers.get(model_spec(runtime.settings.model, runtime.settings))
    assert not mapper.ready
    engine.warm()
    assert mapper.ready
