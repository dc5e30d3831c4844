"""The bucket layout: what an object key says the object is, whose it is, and the keys of derived objects.

Every key names its tenant in its second segment, after the kind:

- ``products/<tenant>/<sku>/<name>.<ext>`` is a product photo,
- ``videos/<tenant>/<id>.<ext>`` a video,
- ``frames/<tenant>/…``, ``evidence/<tenant>/…`` and ``indexes/<tenant>/…`` (saved catalog
  indexes) are written by the pipeline and never re-trigger ingest.

The kind comes first so that one bucket notification per kind (a prefix filter, which S3
and MinIO match literally) covers every tenant, and derived objects are never announced.
Two tenants uploading the same file names write different objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from deeplens.tenants import check_tenant_id, is_tenant_id

DERIVED_PREFIXES = ("frames/", "evidence/", "indexes/")
SOURCE_PREFIXES = ("products/", "videos/")

LAYOUT = "products/<tenant>/<sku>/<photo> or videos/<tenant>/<video file>"

Kind = Literal["product_image", "video", "derived", "unknown"]


@dataclass(frozen=True)
class ParsedKey:
    """What a key names: its kind, its tenant and, for sources, the sku or video id."""

    key: str
    kind: Kind
    tenant: str | None = None
    sku: str | None = None
    video_id: str | None = None


def parse_key(key: str) -> ParsedKey:
    """Classify ``key`` by the bucket layout."""
    parts = key.split("/")
    tenant = parts[1] if len(parts) > 2 and is_tenant_id(parts[1]) else None
    if key.startswith(DERIVED_PREFIXES):
        return ParsedKey(key, "derived", tenant)
    if tenant is None or any(part in ("", ".", "..") for part in parts):
        return ParsedKey(key, "unknown")
    if len(parts) == 4 and parts[0] == "products":
        return ParsedKey(key, "product_image", tenant, sku=parts[2])
    if len(parts) == 3 and parts[0] == "videos" and PurePosixPath(parts[2]).stem:
        return ParsedKey(key, "video", tenant, video_id=PurePosixPath(parts[2]).stem)
    return ParsedKey(key, "unknown", tenant)


def frame_key(tenant: str, video_id: str, frame_index: int) -> str:
    """Where a keyframe image is stored."""
    return f"frames/{check_tenant_id(tenant)}/{video_id}/{frame_index:06d}.jpg"


def evidence_key(tenant: str, appearance_id: str, frame_id: int) -> str:
    """Where an appearance's evidence image is stored (new best frame → new key)."""
    return f"evidence/{check_tenant_id(tenant)}/{appearance_id}/{frame_id}.jpg"


def catalog_index_key(tenant: str, generation: int, vocabulary: str) -> str:
    """Where a saved catalog index is stored (its photo table beside it, with ``.photos.npz`` appended)."""
    return f"indexes/{check_tenant_id(tenant)}/catalog-{generation:08d}-{vocabulary}.faiss"


def product_key(tenant: str, sku: str, filename: str) -> str:
    """Where a product photo is uploaded."""
    return f"products/{check_tenant_id(tenant)}/{sku}/{filename}"


def video_key(tenant: str, filename: str) -> str:
    """Where a video is uploaded."""
    return f"videos/{check_tenant_id(tenant)}/{filename}"
