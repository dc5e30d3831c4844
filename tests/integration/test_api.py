"""The results service over a processed dataset, through real HTTP requests to the ASGI app."""

from __future__ import annotations

import uuid

import cv2
import pytest
from fastapi.testclient import TestClient

from deeplens.api import create_app


@pytest.fixture(scope="module")
def processed(process_tiny_dataset):
    with process_tiny_dataset("api", seed=5, with_empty_video=True) as processed:
        yield processed


@pytest.fixture(scope="module")
def client(processed):
    runtime, _, _ = processed
    return TestClient(create_app(runtime.services, runtime.queue))


def test_health_reports_ok(client):
    assert client.get("/health").json()["status"] == "ok"


def test_openapi_documents_the_appearances_endpoint(client):
    assert "/appearances" in client.get("/openapi.json").json()["paths"]


def test_appearances_list_the_generated_products(client, processed):
    _, truth, _ = processed
    page = client.get("/appearances").json()
    expected = {(video, a.product) for video, v in truth.videos.items() for a in v.appearances}
    assert {(a["video"], a["product"]) for a in page["items"]} == expected


def test_appearances_filter_by_product(client):
    first = client.get("/appearances").json()["items"][0]
    page = client.get("/appearances", params={"product": first["product"]}).json()
    assert page["items"] and all(a["product"] == first["product"] for a in page["items"])


def test_appearances_paginate(client):
    total = client.get("/appearances").json()["total"]
    page = client.get("/appearances", params={"limit": 1, "offset": total - 1}).json()
    assert (len(page["items"]), page["total"], page["offset"]) == (1, total, total - 1)


def test_a_minimum_score_above_every_score_lists_nothing(client):
    assert client.get("/appearances", params={"min_score": 1.0}).json()["items"] == []


def test_an_out_of_range_limit_is_refused(client):
    assert client.get("/appearances", params={"limit": 0}).status_code == 422


def test_an_appearance_has_a_jpeg_evidence_image(client):
    first = client.get("/appearances").json()["items"][0]
    response = client.get(f"/appearances/{first['id']}/evidence")
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content[:2] == b"\xff\xd8"


def test_an_unknown_appearance_is_404(client):
    assert client.get(f"/appearances/{uuid.uuid4()}").status_code == 404


def test_search_by_a_product_photo_ranks_that_product_first(client, processed):
    _, truth, data = processed
    sku = min(truth.products)
    photo = data / "products" / sku / truth.products[sku].photos[0]
    hits = client.post("/search/image", files={"file": ("q.jpg", photo.read_bytes(), "image/jpeg")}).json()
    assert hits[0]["product"] == sku


def test_search_by_frames_returns_keyframes(client, processed):
    _, truth, data = processed
    sku = min(truth.products)
    photo = cv2.imread(str(data / "products" / sku / truth.products[sku].photos[0]))
    body = cv2.imencode(".png", photo)[1].tobytes()
    hits = client.post("/search/image", params={"kind": "frames", "k": 3}, files={"file": ("q.png", body, "image/png")}).json()
    assert len(hits) == 3 and all(hit["kind"] == "frame" and hit["video"] for hit in hits)


def test_searching_with_a_file_that_is_not_an_image_is_a_clear_422(client):
    response = client.post("/search/image", files={"file": ("q.txt", b"hello world, not an image", "text/plain")})
    assert response.status_code == 422
    assert response.json()["error"] == "not_an_image"


def test_failures_show_the_bad_upload_and_its_reason(client, processed):
    runtime, _, _ = processed
    items = client.get("/failures").json()["items"]
    assert {(f["key"], f["reason"]) for f in items} == {(f"videos/{runtime.settings.tenant}/empty.mp4", "empty")}


def test_status_of_a_processed_video_is_done(client, processed):
    runtime, truth, _ = processed
    video = min(truth.videos)
    assert client.get(f"/status/videos/{runtime.settings.tenant}/{video}.mp4").json()["status"] == "done"


def test_status_of_an_unknown_key_is_404(client, processed):
    runtime, _, _ = processed
    assert client.get(f"/status/videos/{runtime.settings.tenant}/nope.mp4").status_code == 404


def test_products_and_videos_are_listed(client, processed):
    _, truth, _ = processed
    assert client.get("/products").json()["total"] == len(truth.products)
    assert client.get("/videos").json()["total"] == len(truth.videos)  # the empty file never became a video


def test_a_rematch_request_is_accepted_and_queued_for_the_match_step(client, processed):
    runtime, _, _ = processed
    response = client.post("/rematch")
    assert response.status_code == 202
    with runtime.services.db.pool.connection() as conn:
        queued = conn.execute(
            "SELECT subscriber, event->>'type' AS type FROM deliveries WHERE tenant_id = %s AND event->>'id' = %s",
            (runtime.settings.tenant, response.json()["requested"]),
        ).fetchall()
    assert [(row["subscriber"], row["type"]) for row in queued] == [("match", "dev.deeplens.rematch.requested")]
