"""Decode and encode still images safely.

Images arrive from users, so :func:`decode_image` treats its input as hostile: it sniffs
the format from magic bytes, checks byte and pixel budgets before decoding, and refuses
truncated files instead of returning a half-grey picture. Everything it returns is the
one layout the rest of :mod:`deeplens.vision` expects: BGR ``uint8``, ``H x W x 3``.
"""

from __future__ import annotations

import io
import warnings

import cv2
import numpy as np
from PIL import Image, ImageOps

from deeplens.errors import BadInput

MIN_SIDE = 32
"""Smaller images carry too little texture to match or embed meaningfully."""

DEFAULT_MAX_BYTES = 50_000_000
DEFAULT_MAX_PIXELS = 60_000_000


def sniff_image_format(data: bytes) -> str | None:
    """Name the image format from the leading magic bytes, or ``None`` if unrecognised.

    Only formats we accept are recognised: JPEG, PNG, WebP, BMP, GIF and TIFF.
    """
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    # "BM" alone is weak (a text file may start with it), so also require the
    # DIB header size at offset 14 to be one of the sizes BMP actually uses.
    if data[:2] == b"BM" and len(data) >= 18:
        dib = int.from_bytes(data[14:18], "little")
        if dib in (12, 16, 40, 52, 56, 64, 108, 124):
            return "bmp"
    return None


def decode_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Decode encoded image bytes into a BGR ``uint8`` array of shape ``(H, W, 3)``.

    Grayscale, palette, 16-bit and CMYK images are converted to BGR; transparent
    pixels are composited onto white (catalog cut-outs are shot on white, so this keeps
    their outline instead of inventing a black background). EXIF orientation is applied.
    Animated images yield their first frame.

    Raises:
        BadInput: ``empty`` (no bytes), ``too_large`` (over ``max_bytes`` or
            ``max_pixels``), ``not_an_image`` (not JPEG/PNG/WebP/BMP/GIF/TIFF),
            ``corrupt_image`` (recognised header but undecodable or truncated),
            ``image_too_small`` (a side under 32 px).
    """
    if not data:
        raise BadInput("empty", "the image has zero bytes")
    if len(data) > max_bytes:
        raise BadInput("too_large", f"the image is larger than the limit of {max_bytes} bytes")
    fmt = sniff_image_format(data)
    if fmt is None:
        raise BadInput(
            "not_an_image", "the data is not a JPEG, PNG, WebP, BMP, GIF or TIFF image"
        )

    try:
        with warnings.catch_warnings():
            # We enforce our own pixel budget below; PIL's bomb warning is noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            pil = Image.open(io.BytesIO(data))
            width, height = pil.size
            # Check the budget from the header *before* decoding, so a tiny file that
            # claims a gigapixel canvas never allocates it.
            if width * height > max_pixels:
                raise BadInput(
                    "too_large",
                    f"the image is {width}x{height} pixels; the limit is {max_pixels} pixels",
                )
            # load() raises OSError on truncated data, where cv2.imdecode may silently
            # fill the missing part with grey.
            pil.load()
            ImageOps.exif_transpose(pil, in_place=True)
    except BadInput:
        raise
    except Image.DecompressionBombError as exc:
        raise BadInput("too_large", f"the image is too large to decode: {exc}") from exc
    except (OSError, ValueError, SyntaxError, EOFError, Image.UnidentifiedImageError) as exc:
        # PIL signals broken streams with a zoo of exception types.
        raise BadInput("corrupt_image", f"the {fmt} image cannot be decoded: {exc}") from exc

    width, height = pil.size
    if min(width, height) < MIN_SIDE:
        raise BadInput(
            "image_too_small",
            f"the image is {width}x{height} pixels; each side must be at least {MIN_SIDE}",
        )
    try:
        rgb = _to_rgb_array(pil)
    except (OSError, ValueError) as exc:
        raise BadInput("corrupt_image", f"the {fmt} image cannot be converted: {exc}") from exc
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)  # much faster than a [..., ::-1] copy


def _to_rgb_array(pil: Image.Image) -> np.ndarray:
    """Convert any PIL mode to an RGB ``uint8`` array."""
    mode = pil.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # High-bit-depth grayscale: stretch to 8 bits by the actual range, because
        # PIL's own convert("L") clips everything above 255 to white.
        arr = np.asarray(pil, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        gray = ((arr - lo) * scale).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        mode == "P" and "transparency" in pil.info
    )
    if has_alpha:
        rgba = pil.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    if mode != "RGB":
        pil = pil.convert("RGB")
    return np.asarray(pil)


def check_bgr_image(img: np.ndarray, *, allow_gray: bool = False) -> None:
    """Raise ``BadInput("bad_array")`` unless ``img`` is a non-empty ``uint8`` BGR image.

    With ``allow_gray`` a 2-D ``uint8`` array is accepted too.
    """
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
        raise BadInput("bad_array", "expected a numpy uint8 image array")
    ok_color = img.ndim == 3 and img.shape[2] == 3
    ok_gray = allow_gray and img.ndim == 2
    if not (ok_color or ok_gray) or img.shape[0] == 0 or img.shape[1] == 0:
        raise BadInput("bad_array", f"expected an HxWx3 BGR image, got shape {img.shape}")


def encode_jpeg(img: np.ndarray, quality: int = 90) -> bytes:
    """Encode a BGR (or grayscale) ``uint8`` image as baseline JPEG bytes."""
    check_bgr_image(img, allow_gray=True)
    if not 1 <= quality <= 100:
        # A wrong argument is a bug in the caller, not bad input: let it be retried/dead-lettered.
        raise ValueError(f"JPEG quality must be 1..100, got {quality}")
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - only on an OpenCV build without JPEG
        raise RuntimeError("OpenCV failed to encode JPEG")
    return buf.tobytes()
