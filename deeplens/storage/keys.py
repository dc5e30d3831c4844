"""The bucket layout: what an object key says the object is, and the keys of derived objects.

``products/<sku>/<name>.<ext>`` is a product photo, ``videos/<id>.<ext>`` a video;
``frames/…`` and ``evidence/…`` are written by the pipeline and never re-trigger ingest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

DERIVED_PREFIXES = ("frames/", "evidence/")

Kind = Literal["product_image", "video", "derived", "unknown"]


@dataclass(frozen=True)
class ParsedKey:
    """What a key names: its kind and, for sources, the sku or video id."""

    key: str
    kind: Kind
    sku: str | None = None
    video_id: str | None = None


def parse_key(key: str) -> ParsedKey:
    """Classify ``key`` by the bucket layout."""
    if key.startswith(DERIVED_PREFIXES):
        return ParsedKey(key, "derived")
    parts = PurePosixPath(key).parts
    if len(parts) == 3 and parts[0] == "products" and parts[1] and parts[2]:
        return ParsedKey(key, "product_image", sku=parts[1])
    if len(parts) == 2 and parts[0] == "videos" and PurePosixPath(parts[1]).stem:
        return ParsedKey(key, "video", video_id=PurePosixPath(parts[1]).stem)
    return ParsedKey(key, "unknown")


def frame_key(video_id: str, frame_index: int) -> str:
    """Where a keyframe image is stored."""
    return f"frames/{video_id}/{frame_index:06d}.jpg"


def evidence_key(appearance_id: str, frame_id: int) -> str:
    """Where an appearance's evidence image is stored (new best frame → new key)."""
    return f"evidence/{appearance_id}/{frame_id}.jpg"


def product_key(sku: str, filename: str) -> str:
    """Where a product photo is uploaded."""
    return f"products/{sku}/{filename}"


def video_key(filename: str) -> str:
    """Where a video is uploaded."""
    return f"videos/{filename}"
