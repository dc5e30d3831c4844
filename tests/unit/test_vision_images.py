"""Decoding and encoding still images: formats, bad input, colour layouts."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from deeplens.errors import BadInput
from deeplens.vision.images import decode_image, encode_jpeg, sniff_image_format


def _textured(h: int = 120, w: int = 160) -> np.ndarray:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return cv2.GaussianBlur(img, (5, 5), 0)


def _pil_bytes(pil: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    pil.save(buf, fmt, **kw)
    return buf.getvalue()


def _reason(data: bytes, **kw: int) -> str:
    with pytest.raises(BadInput) as err:
        decode_image(data, **kw)
    return err.value.reason


def test_decode_returns_bgr_uint8_in_the_original_size() -> None:
    img = _textured()
    out = decode_image(cv2.imencode(".png", img)[1].tobytes())
    assert out.dtype == np.uint8 and out.shape == (120, 160, 3)
    assert np.array_equal(out, img)  # PNG is lossless, and channel order is preserved


def test_decode_reads_jpeg_close_to_the_source() -> None:
    img = cv2.GaussianBlur(_textured(), (0, 0), 4)  # smooth, so chroma subsampling is mild
    out = decode_image(encode_jpeg(img, quality=95))
    assert out.shape == img.shape
    assert np.mean(np.abs(out.astype(int) - img)) < 4


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF"])
def test_every_accepted_format_is_sniffed_and_decoded(fmt: str) -> None:
    data = _pil_bytes(Image.fromarray(_textured()[:, :, ::-1]), fmt)
    assert sniff_image_format(data) is not None
    assert decode_image(data).shape == (120, 160, 3)


def test_empty_bytes_are_rejected_as_empty() -> None:
    assert _reason(b"") == "empty"


def test_text_is_rejected_as_not_an_image() -> None:
    assert _reason(b"hello, this is a plain text file\n" * 10) == "not_an_image"


def test_text_starting_with_bm_is_not_mistaken_for_bmp() -> None:
    assert _reason(b"BM is a band name, not a bitmap header\n" * 4) == "not_an_image"


def test_truncated_jpeg_is_rejected_as_corrupt() -> None:
    data = encode_jpeg(_textured(400, 400))
    assert _reason(data[: len(data) // 2]) == "corrupt_image"


def test_jpeg_missing_only_its_end_marker_is_rejected_as_corrupt() -> None:
    data = encode_jpeg(_textured(400, 400))
    assert _reason(data[:-2]) == "corrupt_image"


def test_png_header_followed_by_garbage_is_rejected_as_corrupt() -> None:
    assert _reason(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20) == "corrupt_image"


def test_image_with_a_side_under_32_pixels_is_rejected_as_too_small() -> None:
    assert _reason(encode_jpeg(_textured(31, 200))) == "image_too_small"


def test_image_over_the_byte_limit_is_rejected_as_too_large() -> None:
    data = encode_jpeg(_textured())
    assert _reason(data, max_bytes=len(data) - 1) == "too_large"


def test_image_over_the_pixel_limit_is_rejected_before_decoding() -> None:
    data = encode_jpeg(_textured(120, 160))
    assert _reason(data, max_pixels=120 * 160 - 1) == "too_large"


def test_grayscale_image_becomes_three_channel_bgr() -> None:
    gray = _textured()[:, :, 0]
    out = decode_image(cv2.imencode(".png", gray)[1].tobytes())
    assert out.shape == (120, 160, 3)
    assert np.array_equal(out[:, :, 0], gray) and np.array_equal(out[:, :, 2], gray)


def test_transparent_pixels_are_composited_onto_white() -> None:
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[:, :32] = (255, 0, 0, 255)  # opaque red on the left, fully transparent right
    out = decode_image(_pil_bytes(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert tuple(out[10, 5]) == (0, 0, 255)  # BGR red
    assert tuple(out[10, 60]) == (255, 255, 255)


def test_sixteen_bit_grayscale_is_stretched_to_eight_bits() -> None:
    arr = np.tile(np.linspace(0, 60000, 64).astype(np.uint16), (64, 1))
    out = decode_image(cv2.imencode(".png", arr)[1].tobytes())
    assert out.dtype == np.uint8 and out[0, 0, 0] == 0 and out[0, -1, 0] == 255


def test_exif_orientation_is_applied() -> None:
    pil = Image.fromarray(np.zeros((40, 80, 3), np.uint8))  # stored landscape, 80 wide
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    out = decode_image(_pil_bytes(pil, "JPEG", exif=exif))
    assert out.shape[:2] == (80, 40)


def test_encode_jpeg_rejects_a_quality_outside_1_to_100() -> None:
    with pytest.raises(ValueError):
        encode_jpeg(_textured(), quality=0)


def test_encode_jpeg_rejects_a_float_array() -> None:
    with pytest.raises(BadInput) as err:
        encode_jpeg(np.zeros((40, 40, 3), np.float32))
    assert err.value.reason == "bad_array"
