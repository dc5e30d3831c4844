"""What a file is, by its first bytes (magic numbers), whatever its name or declared type says."""

from __future__ import annotations

from typing import Literal

Family = Literal["image", "video"]


def sniff(data: bytes) -> str | None:
    """The MIME type the leading bytes of ``data`` identify, or None for anything else."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:2] == b"BM":
        return "image/bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "image/avif"
        if brand in (b"heic", b"heix", b"mif1", b"msf1"):
            return "image/heic"
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"  # Matroska / WebM (EBML header)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")):
        return "video/mpeg"
    if head[:1] == b"\x47" and len(data) > 188 and data[188:189] == b"\x47":
        return "video/mp2t"
    return None


def family_of(mime: str | None) -> Family | None:
    """``image`` or ``video`` for a MIME type of either, else None."""
    if mime is None:
        return None
    major = mime.split("/", 1)[0].strip().lower()
    return major if major in ("image", "video") else None  # type: ignore[return-value]


EXTENSIONS = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp", "image/bmp": ".bmp",
    "image/tiff": ".tif", "image/avif": ".avif", "image/heic": ".heic", "video/mp4": ".mp4",
    "video/quicktime": ".mov", "video/webm": ".webm", "video/x-msvideo": ".avi", "video/mpeg": ".mpg", "video/mp2t": ".ts",
}
