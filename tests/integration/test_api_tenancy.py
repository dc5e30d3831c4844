"""One results service, two tenants: a caller sees its own tenant's data only, whatever it asks.

Tenant a and tenant b each process a tiny dataset (b's products and videos renamed, so a
name never stands for both). The service holds a's store; b's caller has every scope and
asks for a's products, videos, appearances, evidence, images, search hits, duplicates,
status, failures and dead letters by name and by id — and gets none of them — while a's
caller, asking the same, does.
"""

from __future__ import annotations

import shutil
import uuid

import jwt
import pytest
from authkit import AUDIENCE, ISSUER, bearer, claims
from fastapi.testclient import TestClient

from deeplens.api import create_app
from deeplens.auth import Authenticator
from deeplens.cli.ingest import ingest_folder
from deeplens.config import Settings
from deeplens.datagen import generate_dataset
from deeplens.db import Database
from deeplens.db.search import indexed_counts
from deeplens.pipeline.services import Services
from deeplens.runtime import LocalRuntime
from deeplens.storage.factory import open_store
from eventing import types
from eventing.events import Event

SECRET = "tenancy-test-secret-of-32-characters"
EVERY_SCOPE = "read write admin"


@pytest.fixture(scope="module")
def tenant_a(process_tiny_dataset):
    with process_tiny_dataset("tenancy-a", seed=5, with_empty_video=True) as processed:
        yield processed


@pytest.fixture(scope="module")
def tenant_b(tmp_path_factory, database_url, predictor):
    """Tenant b's runtime over a tiny dataset whose products are B-… and videos b-…."""
    root = tmp_path_factory.mktemp("tenancy-b")
    generate_dataset(root / "gen", "tiny", seed=7)
    data = root / "data"
    for sku in (root / "gen" / "products").iterdir():
        shutil.copytree(sku, data / "products" / f"B-{sku.name}")
    (data / "videos").mkdir()
    for video in (root / "gen" / "videos").iterdir():
        shutil.copy(video, data / "videos" / f"b-{video.name}")
    settings = Settings(home=root / "home", database_url=database_url, tenant=f"tenancy-b-{uuid.uuid4().hex[:8]}",
                        backoff_delay=0.01)
    services = Services(settings, Database(database_url, max_size=2), open_store(settings), _embedder=predictor)
    with LocalRuntime(settings, services=services) as runtime:
        assert ingest_folder(runtime, data, wait=True, timeout=300)
        yield runtime


@pytest.fixture(scope="module")
def a_runtime(tenant_a):
    return tenant_a[0]


@pytest.fixture(scope="module")
def client(a_runtime, tenant_b):
    settings = Settings(tenant=a_runtime.settings.tenant, auth_enabled=True, auth_hs256_secret=SECRET,
                        auth_issuer=ISSUER, auth_audience=AUDIENCE)
    auth = Authenticator.from_settings(settings, a_runtime.services.db)
    return TestClient(create_app(a_runtime.services, a_runtime.queue, auth=auth))


def credential(tenant: str) -> dict[str, str]:
    return bearer(jwt.encode(claims(tenant, EVERY_SCOPE), SECRET, algorithm="HS256"))


@pytest.fixture(scope="module")
def as_a(a_runtime):
    return credential(a_runtime.settings.tenant)


@pytest.fixture(scope="module")
def as_b(tenant_b):
    return credential(tenant_b.settings.tenant)


@pytest.fixture(scope="module")
def a_appearance(client, as_a):
    return client.get("/appearances", headers=as_a).json()["items"][0]


@pytest.fixture(scope="module")
def a_photo(client, as_a, tenant_a):
    """(id, file bytes) of one of a's indexed product photos."""
    _, truth, data = tenant_a
    sku = min(truth.products)
    body = (data / "products" / sku / truth.products[sku].photos[0]).read_bytes()
    hit = client.post("/search/image", headers=as_a, files={"file": ("q.png", body, "image/png")}).json()[0]
    return hit["id"], body


def is_bs(hit: dict) -> bool:
    """Whether a search hit is one of tenant b's items."""
    return (hit["product"] or "").startswith("B-") or (hit["video"] or "").startswith("b-")


def test_b_lists_only_its_own_products(client, as_a, as_b):
    a = {p["sku"] for p in client.get("/products", headers=as_a).json()["items"]}
    b = {p["sku"] for p in client.get("/products", headers=as_b).json()["items"]}
    assert a and b and all(sku.startswith("B-") for sku in b) and not a & b


def test_b_lists_only_its_own_videos(client, as_a, as_b):
    b = [v["video"] for v in client.get("/videos", headers=as_b).json()["items"]]
    assert b and all(video.startswith("b-") for video in b)


def test_b_lists_only_its_own_appearances(client, as_a, as_b):
    a = {x["id"] for x in client.get("/appearances", headers=as_a).json()["items"]}
    b = client.get("/appearances", headers=as_b).json()["items"]
    assert b and all(x["product"].startswith("B-") for x in b) and not a & {x["id"] for x in b}


def test_b_cannot_read_an_appearance_of_a_by_its_id(client, as_a, as_b, a_appearance):
    path = f"/appearances/{a_appearance['id']}"
    assert (client.get(path, headers=as_a).status_code, client.get(path, headers=as_b).status_code) == (200, 404)


def test_b_cannot_fetch_the_evidence_of_an_appearance_of_a(client, as_a, as_b, a_appearance):
    path = f"/appearances/{a_appearance['id']}/evidence"
    assert (client.get(path, headers=as_a).status_code, client.get(path, headers=as_b).status_code) == (200, 404)


@pytest.mark.parametrize("thumb", [False, True])
def test_b_cannot_fetch_an_image_of_a_by_its_id(client, as_a, as_b, a_photo, thumb):
    path = f"/images/product_image/{a_photo[0]}"
    params = {"thumb": thumb}
    assert client.get(path, headers=as_a, params=params).status_code == 200  # cached for a first
    assert client.get(path, headers=as_b, params=params).status_code == 404


def test_b_cannot_fetch_a_keyframe_of_a_by_its_id(client, as_a, as_b, a_appearance):
    path = f"/images/frame/{a_appearance['best_frame_id']}"
    assert (client.get(path, headers=as_a).status_code, client.get(path, headers=as_b).status_code) == (200, 404)


def test_searching_by_an_image_of_a_finds_only_bs_items(client, as_a, as_b, a_photo):
    files = {"file": ("q.png", a_photo[1], "image/png")}
    assert not is_bs(client.post("/search/image", headers=as_a, files=files, params={"kind": "all"}).json()[0])
    hits = client.post("/search/image", headers=as_b, files=files, params={"kind": "all"}).json()
    assert hits and all(is_bs(h) for h in hits)


def test_searching_by_text_finds_only_bs_items(client, as_a, as_b):
    params = {"q": "packet", "limit": 50}
    assert client.get("/search/text", headers=as_a, params=params).json()
    hits = client.get("/search/text", headers=as_b, params=params).json()
    assert hits and all(is_bs(h) for h in hits)


def test_b_cannot_search_for_items_like_one_of_a(client, as_a, as_b, a_photo):
    params = {"id": a_photo[0]}
    assert client.get("/search/similar", headers=as_a, params=params).status_code == 200
    assert client.get("/search/similar", headers=as_b, params=params).status_code == 404


def test_b_sees_only_its_own_duplicates(client, as_a, as_b):
    params = {"threshold": 0.3}
    assert client.get("/duplicates", headers=as_a, params=params).json()["items"]
    pairs = client.get("/duplicates", headers=as_b, params=params).json()["items"]
    assert pairs and all(is_bs(p["a"]) and is_bs(p["b"]) for p in pairs)


def test_b_cannot_read_the_status_of_an_upload_of_a(client, as_a, as_b, tenant_a):
    runtime, truth, _ = tenant_a
    path = f"/status/videos/{runtime.settings.tenant}/{min(truth.videos)}.mp4"
    assert (client.get(path, headers=as_a).status_code, client.get(path, headers=as_b).status_code) == (200, 404)


def test_b_lists_only_the_status_of_its_own_uploads(client, as_b, tenant_b):
    keys = [s["key"] for s in client.get("/status", headers=as_b).json()["items"]]
    assert keys and all(key.split("/")[1] == tenant_b.settings.tenant and key.split("/")[2].startswith(("B-", "b-"))
                        for key in keys)


def test_b_does_not_see_the_failures_of_a(client, as_a, as_b):
    assert client.get("/failures", headers=as_a).json()["total"] == 1  # a's empty video
    assert client.get("/failures", headers=as_b).json()["items"] == []


@pytest.fixture(scope="module")
def a_dead_letter(a_runtime):
    event = Event(type=types.IMAGE_INDEXED, source="test", data={}, tenant=a_runtime.settings.tenant)
    return a_runtime.queue.record_dead_letter(event, "match", "RuntimeError: boom", 3)


def test_b_does_not_see_the_dead_letters_of_a(client, as_a, as_b, a_dead_letter):
    assert [d["id"] for d in client.get("/dead-letters", headers=as_a).json()] == [a_dead_letter]
    assert client.get("/dead-letters", headers=as_b).json() == []


def test_b_cannot_replay_a_dead_letter_of_a(client, as_a, as_b, a_dead_letter):
    response = client.post("/dead-letters/replay", headers=as_b, json=[a_dead_letter])
    assert response.json() == {"replayed": 0}
    assert [d["id"] for d in client.get("/dead-letters", headers=as_a).json()] == [a_dead_letter]


def test_b_cannot_remove_a_product_of_a(client, as_a, as_b, tenant_a):
    sku = min(tenant_a[1].products)
    assert client.delete(f"/products/{sku}", headers=as_b).status_code == 404
    assert sku in {product["sku"] for product in client.get("/products", headers=as_a).json()["items"]}


def test_a_rematch_requested_by_b_is_bs_alone(client, as_b, a_runtime, tenant_b):
    requested = client.post("/rematch", headers=as_b).json()["requested"]
    with a_runtime.services.db.pool.connection() as conn:
        tenants = {r["tenant_id"] for r in conn.execute(
            "SELECT tenant_id FROM deliveries WHERE event->>'id' = %s", (requested,)).fetchall()}
    assert tenants == {tenant_b.settings.tenant}


def test_the_queue_counts_are_the_callers(client, as_b, a_runtime, tenant_b):
    assert client.get("/queue", headers=as_b).json() == a_runtime.queue.counts(tenant_b.settings.tenant)


def test_the_models_count_the_callers_items(client, as_b, a_runtime, tenant_b):
    with a_runtime.services.db.pool.connection() as conn:
        expected = indexed_counts(conn, tenant_b.settings.tenant)[a_runtime.settings.model]
    assert client.get("/models", headers=as_b).json()[0]["indexed"] == expected


def test_the_gallery_look_ups_answer_for_the_callers_tenant_only(client, as_a, as_b, tenant_a, a_appearance):
    _, truth, _ = tenant_a
    skus = {"sku": sorted(truth.products)}
    assert client.get("/gallery/product-photos", headers=as_a, params=skus).json()
    assert client.get("/gallery/product-photos", headers=as_b, params=skus).json() == {}
    videos = {"video": sorted(truth.videos)}
    assert client.get("/gallery/video-posters", headers=as_b, params=videos).json() == {}
    path = f"/gallery/videos/{a_appearance['video']}"
    assert (client.get(path, headers=as_a).status_code, client.get(path, headers=as_b).status_code) == (200, 404)
