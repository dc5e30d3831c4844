"""What ingest checks an upload for before anything costs more than reading its bytes.

An object is what its leading bytes say, not what its key or extension claim: a product
photo must be an image the pipeline decodes, a video an allowed container (playlists and
other files that make FFmpeg read further files never are). And one photo may belong to
one product only: the same image under a second SKU would make both products explain the
same place equally well, so neither would match (the rival-product ratio test); the later
copy is refused instead, and the first product keeps its appearances.
"""

from __future__ import annotations

import psycopg

from deeplens.config import Settings
from deeplens.db.catalog import objects_with_content
from deeplens.errors import BadInput
from deeplens.storage.keys import ParsedKey, parse_key
from deeplens.vision.containers import admit_container
from deeplens.vision.images import sniff_image_format
from deeplens.vision.video import VideoLimits


def check_content(parsed: ParsedKey, data: bytes) -> None:
    """Refuse an upload whose bytes are not the kind of media its key names.

    Raises:
        BadInput: ``empty``; ``not_an_image`` (a product photo that is no JPEG, PNG, WebP,
            BMP, GIF or TIFF); for videos, the refusals of
            :func:`~deeplens.vision.containers.admit_container`.
    """
    if parsed.kind == "product_image":
        if not data:
            raise BadInput("empty", "the image has zero bytes")
        if sniff_image_format(data) is None:
            raise BadInput("not_an_image", "the file's leading bytes are not those of a JPEG, PNG, WebP, BMP, GIF or TIFF image")
    elif parsed.kind == "video":
        admit_container(data[:512])


def photo_conflict(conn: psycopg.Connection, tenant: str, parsed: ParsedKey, sha256: str) -> BadInput | None:
    """Why a product photo may not be indexed, when the same image is already another product's.

    Compares with the tenant's admitted objects (refused copies are recorded without
    their hash), in the caller's transaction, which this serialises per content.
    """
    if parsed.kind != "product_image":
        return None
    for key in objects_with_content(conn, tenant, "product_image", sha256):
        other = parse_key(key)
        if key != parsed.key and other.sku != parsed.sku:
            return BadInput(
                "duplicate_of_other_product",
                f"the same image (sha256 {sha256[:12]}…) is already product {other.sku!r}'s photo {key!r}; "
                "one photo cannot identify two products, so this copy is not indexed",
            )
    return None


def video_limits(settings: Settings) -> VideoLimits:
    """The header limits videos are held to, from the settings."""
    return VideoLimits(
        max_pixels=settings.max_video_pixels,
        max_side=settings.max_video_side,
        max_seconds=settings.max_video_seconds,
        min_fps=settings.min_video_fps,
        max_fps=settings.max_video_fps,
    )
