"""features: embeddings (batched, from the predictor) and local features for verification."""

from __future__ import annotations

import numpy as np

from deeplens.db.catalog import upsert_product_image
from deeplens.db.local_features import put_local_features
from deeplens.db.vectors import upsert_embeddings
from deeplens.pipeline.services import Services
from deeplens.vision.images import decode_image
from deeplens.vision.local_features import extract_local_features, to_bytes
from eventing import types
from eventing.events import Event

SOURCE = "deeplens/features"
LOCAL_FEATURE_KIND = "sift"


def handle(event: Event, services: Services) -> list[Event]:
    """Index a product photo or a batch of keyframes; emit ``image.indexed``."""
    if event.type == types.PRODUCT_UPLOADED:
        return _index_product(event, services)
    if event.type == types.FRAMES_EXTRACTED:
        return _index_frames(event, services)
    raise ValueError(f"features cannot handle {event.type}")


def _index_product(event: Event, services: Services) -> list[Event]:
    upload = types.parse_data(types.ProductUploaded, event.data)
    image = decode_image(services.store.get(upload.key), max_bytes=services.settings.max_image_bytes)
    vectors = services.embedder.embed_images([image])
    local = extract_local_features(image, kind=LOCAL_FEATURE_KIND)
    height, width = image.shape[:2]
    with services.db.transaction() as conn:
        image_id = upsert_product_image(conn, event.tenant, upload.sku, upload.key, upload.sha256, width, height)
        _store(conn, event.tenant, "product_image", [image_id], services.embedder.model_name, vectors, [local])
    indexed = types.ImageIndexed(item_kind="product_image", item_ids=[image_id], model=services.embedder.model_name)
    return [event.child(types.IMAGE_INDEXED, indexed.model_dump(), source=SOURCE, key=str(image_id), subject=upload.key)]


def _index_frames(event: Event, services: Services) -> list[Event]:
    batch = types.parse_data(types.FramesExtracted, event.data)
    images = [decode_image(services.store.get(frame.key)) for frame in batch.frames]
    vectors = services.embedder.embed_images(images)
    locals_ = [extract_local_features(image, kind=LOCAL_FEATURE_KIND) for image in images]
    ids = [frame.frame_id for frame in batch.frames]
    with services.db.transaction() as conn:
        _store(conn, event.tenant, "frame", ids, services.embedder.model_name, vectors, locals_)
    indexed = types.ImageIndexed(item_kind="frame", item_ids=ids, model=services.embedder.model_name, video_id=batch.video_id)
    return [event.child(types.IMAGE_INDEXED, indexed.model_dump(), source=SOURCE, key="frames", subject=event.subject)]


def _store(conn, tenant: str, item_kind: str, ids: list[int], model: str, vectors: np.ndarray, locals_: list) -> None:
    upsert_embeddings(conn, tenant, item_kind, ids, model, vectors)
    for item_id, local in zip(ids, locals_):
        put_local_features(conn, tenant, item_kind, item_id, local.kind, len(local), to_bytes(local))
