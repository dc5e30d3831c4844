"""features: embeddings (batched, from the embedder) and local features for verification.

Where the model has a classifier (mobilenet_v2's ImageNet head) the same forward pass also
gives class probabilities; their top-k are stored for text search. Every write bumps the
tenant's index generation, which invalidates cached search results.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from deeplens.db.catalog import hold_upload, upsert_product_image
from deeplens.db.class_scores import upsert_class_scores
from deeplens.db.index_state import advance_catalog_generation, bump_generation
from deeplens.db.local_features import put_local_features
from deeplens.db.vectors import upsert_embeddings
from deeplens.errors import Undeliverable
from deeplens.matching.vocabulary import load_vocabulary, words_to_bytes
from deeplens.pipeline.batching import Batched
from deeplens.pipeline.services import Embedder, Services
from deeplens.vision.images import decode_image
from deeplens.vision.local_features import LocalFeatures, extract_local_features, to_bytes
from eventing import types
from eventing.events import Event

log = logging.getLogger(__name__)
SOURCE = "deeplens/features"
LOCAL_FEATURE_KIND = "sift"


def handle(event: Event, services: Services) -> list[Event]:
    """Index a product photo or a batch of keyframes; emit ``image.indexed``."""
    if event.type == types.PRODUCT_UPLOADED:
        return store_photos([describe_photo(event, services)], services)[0]
    if event.type == types.FRAMES_EXTRACTED:
        return _index_frames(event, services)
    raise Undeliverable(f"features does not take {event.type} events")


@dataclass(frozen=True, eq=False)
class DescribedPhoto:
    """A product photo's embedding, class scores and local features (with their catalog words), not yet stored."""

    event: Event
    upload: types.ProductUploaded
    width: int
    height: int
    vector: np.ndarray
    probs: np.ndarray | None
    local: LocalFeatures
    words: tuple[bytes, str]


def describe_photo(event: Event, services: Services) -> DescribedPhoto:
    """Decode and describe an uploaded product photo (``BadInput`` where it is not one)."""
    upload = types.parse_data(types.ProductUploaded, event.data)
    image = decode_image(services.store.get(upload.key), max_bytes=services.settings.max_image_bytes)
    vectors, probs = embed_and_maybe_classify(services.embedder, [image])
    local = extract_local_features(
        image, kind=LOCAL_FEATURE_KIND, max_side=services.settings.product_feature_max_side,
        device=services.settings.local_features_device,
    )
    # The catalog index's words of its descriptors are found here, once, not by every match
    # process (and snapshot build) that indexes the photo.
    vocabulary = load_vocabulary()
    words = (words_to_bytes(vocabulary.assign(local.descriptors)), vocabulary.name)
    height, width = image.shape[:2]
    return DescribedPhoto(event, upload, width, height, vectors[0], None if probs is None else probs[0], local, words)


def store_photos(photos: list[DescribedPhoto], services: Services) -> list[list[Event]]:
    """Store described photos of one tenant in one transaction; each one's output events.

    One ``image.indexed`` event names every photo stored (the match step takes every
    waiting photo at once in any case); it goes out with the last. A photo removed or
    replaced since its upload is left out.
    """
    tenant = photos[0].event.tenant
    with services.db.transaction() as conn:
        kept = [photo for photo in photos if hold_upload(conn, tenant, photo.upload.key, photo.upload.sha256)]
        for photo in photos:
            if photo not in kept:
                log.info("features: %s was removed or replaced before it was indexed; nothing to do", photo.upload.key)
        ids = [upsert_product_image(conn, tenant, p.upload.sku, p.upload.key, p.upload.sha256, p.width, p.height) for p in kept]
        if kept:
            probs = None if kept[0].probs is None else np.stack([p.probs for p in kept])
            _store(conn, services, tenant, "product_image", ids, np.stack([p.vector for p in kept]), probs,
                   [p.local for p in kept], [p.words for p in kept])
    outputs: list[list[Event]] = [[] for _ in photos]
    if kept:
        last = kept[-1]
        indexed = types.ImageIndexed(item_kind="product_image", item_ids=ids, model=services.embedder.model_name)
        outputs[photos.index(last)] = [last.event.child(types.IMAGE_INDEXED, indexed.model_dump(), source=SOURCE,
                                                        key="+".join(map(str, ids)), subject=last.upload.key)]
    return outputs


BATCHED = {types.PRODUCT_UPLOADED: Batched(describe_photo, store_photos)}
"""Product photos come one event each; described one by one, they are stored together."""


def _index_frames(event: Event, services: Services) -> list[Event]:
    batch = types.parse_data(types.FramesExtracted, event.data)
    images = [decode_image(services.store.get(frame.key)) for frame in batch.frames]
    vectors, probs = embed_and_maybe_classify(services.embedder, images)
    max_side, device = services.settings.frame_feature_max_side, services.settings.local_features_device
    locals_ = [extract_local_features(image, kind=LOCAL_FEATURE_KIND, max_side=max_side, device=device) for image in images]
    ids = [frame.frame_id for frame in batch.frames]
    with services.db.transaction() as conn:
        _store(conn, services, event.tenant, "frame", ids, vectors, probs, locals_)
    indexed = types.ImageIndexed(item_kind="frame", item_ids=ids, model=services.embedder.model_name, video_id=batch.video_id)
    return [event.child(types.IMAGE_INDEXED, indexed.model_dump(), source=SOURCE, key="frames", subject=event.subject)]


def can_classify(embedder: Embedder) -> bool:
    """Whether the embedder gives class probabilities too (a classifier model, in process or behind KServe)."""
    return embedder.supports_classify


def embed_and_maybe_classify(embedder: Embedder, images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    """Embeddings, plus class probabilities from the same forward pass where the model has a classifier."""
    if can_classify(embedder):
        return embedder.embed_and_classify(images)
    return embedder.embed_images(images), None


def _store(conn, services: Services, tenant: str, item_kind: str, ids: list[int], vectors: np.ndarray,
           probs: np.ndarray | None, locals_: list, words: list[tuple[bytes, str]] | None = None) -> None:
    """Write the items' vectors, class scores and local features (product photos' with their
    catalog words, ``(words, vocabulary name)`` each), then advance the generations."""
    model = services.embedder.model_name
    upsert_embeddings(conn, tenant, item_kind, ids, model, vectors)
    if probs is not None:
        upsert_class_scores(conn, tenant, item_kind, ids, model, probs, services.settings.class_top_k)
    for item_id, local, item_words in zip(ids, locals_, words or [()] * len(ids), strict=True):
        put_local_features(conn, tenant, item_kind, item_id, local.kind, len(local), to_bytes(local), *item_words)
    # Last: their row lock is held only until commit.
    if item_kind == "product_image":
        advance_catalog_generation(conn, tenant, ids)
    bump_generation(conn, tenant)
