"""The search endpoints of the results service over a processed dataset, through real HTTP requests."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from deeplens.api import create_app


@pytest.fixture(scope="module")
def processed(process_tiny_dataset):
    with process_tiny_dataset("search-api", seed=11) as (runtime, _, data):
        yield runtime, data


@pytest.fixture(scope="module")
def client(processed):
    runtime, _ = processed
    return TestClient(create_app(runtime.services, runtime.queue))


@pytest.fixture(scope="module")
def photo_id(client, processed):
    """Id of the indexed product photo that a search by its own file finds first."""
    _, data = processed
    photo = next(p for p in sorted((data / "products").rglob("*")) if p.is_file())
    return client.post("/search/image", files={"file": ("q.png", photo.read_bytes(), "image/png")}).json()[0]["id"]


@pytest.fixture(scope="module")
def frame_hit(client, photo_id):
    return client.get("/search/similar", params={"id": photo_id, "within": "frames", "limit": 1}).json()[0]


def test_openapi_documents_every_search_endpoint(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/search/image", "/search/text", "/search/text/classes", "/search/similar", "/duplicates", "/models",
            "/images/{kind}/{item_id}"} <= set(paths)


def test_more_like_this_lists_other_items_most_similar_first(client, photo_id):
    hits = client.get("/search/similar", params={"id": photo_id, "kind": "product_image", "limit": 5}).json()
    assert hits and photo_id not in [h["id"] for h in hits if h["kind"] == "product_image"]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


def test_more_like_this_of_an_unknown_item_is_a_404(client):
    assert client.get("/search/similar", params={"id": 987654321}).status_code == 404


@pytest.mark.parametrize(("within", "kind"), [("products", "product_image"), ("frames", "frame")])
def test_the_kind_filter_keeps_only_that_kind(client, photo_id, within, kind):
    hits = client.get("/search/similar", params={"id": photo_id, "within": within, "limit": 20}).json()
    assert hits and {h["kind"] for h in hits} == {kind}


def test_the_video_filter_keeps_only_that_videos_keyframes(client, photo_id, frame_hit):
    hits = client.get("/search/similar", params={"id": photo_id, "video": frame_hit["video"], "limit": 50}).json()
    assert hits and {(h["kind"], h["video"]) for h in hits} == {("frame", frame_hit["video"])}


def test_the_product_filter_keeps_only_that_products_photos(client, frame_hit):
    some = client.get("/search/similar", params={"id": frame_hit["id"], "kind": "frame", "within": "products"}).json()[0]
    hits = client.get("/search/similar", params={"id": frame_hit["id"], "kind": "frame", "product": some["product"]}).json()
    assert hits and {h["product"] for h in hits} == {some["product"]}


def test_video_and_product_filters_together_are_refused(client, photo_id):
    response = client.get("/search/similar", params={"id": photo_id, "video": "v", "product": "p"})
    assert response.status_code == 422 and response.json()["error"] == "conflicting_filters"


def test_items_added_since_a_future_date_are_none(client, photo_id):
    assert client.get("/search/similar", params={"id": photo_id, "since": "2999-01-01"}).json() == []


def test_items_added_since_a_past_date_are_all_there(client, photo_id):
    everything = client.get("/search/similar", params={"id": photo_id, "limit": 20}).json()
    assert client.get("/search/similar", params={"id": photo_id, "limit": 20, "since": "2000-01-01"}).json() == everything


def test_pages_are_slices_of_the_longer_ranking(client, photo_id):
    four = client.get("/search/similar", params={"id": photo_id, "limit": 4}).json()
    second = client.get("/search/similar", params={"id": photo_id, "limit": 2, "offset": 2}).json()
    assert [h["id"] for h in second] == [h["id"] for h in four[2:4]]


def test_a_minimum_score_drops_weaker_hits(client, photo_id):
    hits = client.get("/search/similar", params={"id": photo_id, "limit": 10}).json()
    cut = hits[len(hits) // 2]["score"]
    kept = client.get("/search/similar", params={"id": photo_id, "limit": 10, "min_score": cut}).json()
    assert kept and all(h["score"] >= cut for h in kept) and len(kept) < len(hits)


def test_a_page_deeper_than_the_search_window_is_refused(client, photo_id):
    assert client.get("/search/similar", params={"id": photo_id, "offset": 5000}).status_code == 422


def test_image_search_takes_the_same_filters(client, processed):
    _, data = processed
    photo = next(p for p in sorted((data / "products").rglob("*")) if p.is_file())
    hits = client.post("/search/image", params={"kind": "all", "limit": 3, "offset": 1},
                       files={"file": ("q.png", photo.read_bytes(), "image/png")}).json()
    assert len(hits) == 3


def test_text_search_that_names_no_class_is_a_clear_422(client):
    response = client.get("/search/text", params={"q": "xyzzy"})
    assert response.status_code == 422 and response.json()["error"] == "no_matching_class"
    assert "nearest" in response.json()["detail"]


def test_text_search_on_the_default_model_ranks_by_class_scores(client):
    hits = client.get("/search/text", params={"q": "packet", "limit": 5}).json()
    assert hits and all(h["classes"] and h["score"] > 0 for h in hits)


def test_the_classes_of_a_text_query_can_be_looked_up(client):
    classes = client.get("/search/text/classes", params={"q": "cat"}).json()
    assert "tabby" in {c["name"] for c in classes} and classes[0]["weight"] == 1.0


def test_an_unknown_model_is_a_404(client):
    assert client.get("/search/text", params={"q": "cat", "model": "no-such-model"}).status_code == 404


def test_models_list_the_default_model_with_its_counts(client, processed):
    runtime, _ = processed
    models = {m["name"]: m for m in client.get("/models").json()}
    default = models["mobilenet_v2"]
    with runtime.services.db.pool.connection() as conn:
        n = conn.execute("SELECT count(*) AS n FROM embeddings WHERE tenant_id = %s AND model = 'mobilenet_v2'",
                         (runtime.settings.tenant,)).fetchone()["n"]
    assert default["default"] and default["dim"] == 1280 and default["text_search"] == "classes"
    assert default["indexed_total"] == n and default["class_scored"] == n


def test_models_list_open_clip_models_as_text_capable(client):
    models = {m["name"]: m for m in client.get("/models").json()}
    assert models["open_clip:ViT-B-32"]["text_search"] == "text_tower" and models["open_clip:ViT-B-32"]["indexed_total"] == 0


def test_a_hits_image_url_serves_the_stored_photo(client, processed, photo_id):
    runtime, _ = processed
    hit = client.get("/search/similar", params={"id": photo_id, "within": "products", "limit": 1}).json()[0]
    response = client.get(hit["image_url"])
    assert response.status_code == 200 and response.content == runtime.services.store.get(hit["key"])
    assert response.headers["content-type"].startswith("image/") and response.headers["etag"]


def test_a_keyframes_image_is_served_too(client, frame_hit):
    response = client.get(f"/images/frame/{frame_hit['id']}")
    assert response.status_code == 200 and response.content[:2] == b"\xff\xd8"


def test_a_thumbnail_is_a_jpeg_at_most_256_pixels(client, frame_hit):
    response = client.get(frame_hit["thumb_url"])
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert response.headers["content-type"] == "image/jpeg" and max(image.shape[:2]) <= 256
    assert "max-age" in response.headers["cache-control"]


def test_an_unchanged_image_revalidates_with_304(client, frame_hit):
    etag = client.get(frame_hit["thumb_url"]).headers["etag"]
    response = client.get(frame_hit["thumb_url"], headers={"If-None-Match": etag})
    assert response.status_code == 304 and not response.content


def test_the_image_of_an_unknown_item_is_a_404(client):
    assert client.get("/images/product_image/987654321").status_code == 404


def test_duplicates_is_a_page_of_pairs_above_the_threshold(client):
    page = client.get("/duplicates", params={"threshold": 0.9}).json()
    assert set(page) == {"items", "total", "limit", "offset"}
    assert all(p["score"] >= 0.9 and (p["a"]["kind"], p["a"]["id"]) != (p["b"]["kind"], p["b"]["id"]) for p in page["items"])
