"""The stored image of a product photo or keyframe, and its thumbnail, for result lists and galleries."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cv2
import numpy as np

from deeplens.caches.search import Cache
from deeplens.db.search import item_row
from deeplens.errors import BadInput, NotFound
from deeplens.mediatypes import sniff
from deeplens.pipeline.services import Services
from deeplens.storage.base import content_type_for

THUMB_SIZE = 256
THUMB_QUALITY = 85


@dataclass(frozen=True)
class Media:
    """Bytes to serve, their type, and an entity tag derived from the content."""

    data: bytes
    content_type: str
    etag: str


def item_image(services: Services, tenant: str, kind: str, item_id: int, *, thumb: bool = False,
               cache: Cache | None = None) -> Media:
    """The stored image of one of ``tenant``'s items (``thumb``: a JPEG at most 256 px on its longer side).

    :class:`NotFound` for an unknown item, another tenant's, or a missing object. Thumbnails are cached by the
    original's content hash, so an overwritten object gets a fresh one.
    """
    if kind not in ("product_image", "frame"):
        raise NotFound(f"no item kind {kind!r} (product_image or frame)")
    with services.db.pool.connection() as conn:
        row = item_row(conn, tenant, kind, item_id)
    if row is None:
        raise NotFound(f"no {kind} {item_id}")
    data = services.store.get(row["key"])
    tag = hashlib.sha256(data).hexdigest()[:20]
    if not thumb:
        return Media(data, sniff(data) or content_type_for(row["key"]), f'"{tag}"')
    key = f"thumb:{tenant}:{THUMB_SIZE}:{tag}"
    small = cache.get(key) if cache is not None else None
    if small is None:
        small = thumbnail(data)
        if cache is not None:
            cache.set(key, small)
    return Media(small, "image/jpeg", f'"{tag}-t{THUMB_SIZE}"')


def thumbnail(data: bytes, size: int = THUMB_SIZE) -> bytes:
    """A JPEG of the encoded image ``data`` scaled (never up) to ``size`` px on its longer side."""
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise BadInput("bad_image", "the stored image cannot be decoded")
    height, width = image.shape[:2]
    scale = min(1.0, size / max(height, width))
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, THUMB_QUALITY])
    if not ok:
        raise BadInput("bad_image", "the thumbnail cannot be encoded")
    return encoded.tobytes()
