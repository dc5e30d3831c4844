"""Local keypoint features: extraction, coordinates, and the bytes round trip."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from synthkit import make_background, make_packaging

from deeplens.errors import BadInput
from deeplens.vision.local_features import (
    LocalFeatures,
    extract_local_features,
    extract_region_features,
    from_bytes,
    to_bytes,
)


@pytest.fixture(scope="module")
def packaging() -> np.ndarray:
    return make_packaging(3)


def test_sift_features_are_float32_rootsift_with_128_dims(packaging: np.ndarray) -> None:
    lf = extract_local_features(packaging, kind="sift")
    assert lf.kind == "sift" and len(lf) > 100
    assert lf.points.shape == (len(lf), 2) and lf.points.dtype == np.float32
    assert lf.descriptors.shape == (len(lf), 128) and lf.descriptors.dtype == np.float32
    # Quantised RootSIFT: integer values in 0..255 whose square sums to ~512^2.
    assert np.array_equal(lf.descriptors, np.rint(lf.descriptors))
    norms = np.linalg.norm(lf.descriptors / 512.0, axis=1)
    assert np.allclose(norms, 1.0, atol=0.05)


def test_orb_features_are_uint8_with_32_bytes(packaging: np.ndarray) -> None:
    lf = extract_local_features(packaging, kind="orb")
    assert lf.kind == "orb" and len(lf) > 100
    assert lf.descriptors.shape == (len(lf), 32) and lf.descriptors.dtype == np.uint8


def test_extraction_keeps_at_most_max_features(packaging: np.ndarray) -> None:
    assert len(extract_local_features(packaging, max_features=50)) == 50


def test_features_record_the_original_image_size(packaging: np.ndarray) -> None:
    lf = extract_local_features(packaging)
    assert (lf.width, lf.height) == (360, 480)


def test_points_of_a_downscaled_image_are_in_original_pixel_coordinates() -> None:
    big = np.full((1080, 1920, 3), 128, np.uint8)
    big[700:900, 1400:1700] = make_packaging(5, size=(300, 200))  # texture only here
    lf = extract_local_features(big, max_side=960)
    assert len(lf) > 20
    assert lf.points[:, 0].min() >= 1390 and lf.points[:, 0].max() <= 1710
    assert lf.points[:, 1].min() >= 690 and lf.points[:, 1].max() <= 910


def test_downscaled_points_agree_with_full_resolution_points() -> None:
    gray = cv2.cvtColor(make_background(2, (1920, 1080)), cv2.COLOR_BGR2GRAY)
    downscaled = extract_local_features(gray, max_side=960)
    half = extract_local_features(cv2.resize(gray, (960, 540), interpolation=cv2.INTER_AREA))
    assert np.array_equal(downscaled.descriptors, half.descriptors)
    assert np.allclose(downscaled.points, (half.points + 0.5) * 2 - 0.5, atol=1e-3)


def test_a_flat_image_has_no_features_but_valid_shapes() -> None:
    lf = extract_local_features(np.full((100, 100, 3), 90, np.uint8))
    assert len(lf) == 0
    assert lf.points.shape == (0, 2) and lf.descriptors.shape == (0, 128)


def test_unknown_kind_is_a_value_error(packaging: np.ndarray) -> None:
    with pytest.raises(ValueError):
        extract_local_features(packaging, kind="surf")


@pytest.mark.parametrize("kind", ["sift", "orb"])
def test_bytes_round_trip_is_exact(packaging: np.ndarray, kind: str) -> None:
    lf = extract_local_features(packaging, kind=kind)
    back = from_bytes(to_bytes(lf))
    assert (back.kind, back.width, back.height) == (lf.kind, lf.width, lf.height)
    assert back.descriptors.dtype == lf.descriptors.dtype
    assert np.array_equal(back.points, lf.points)
    assert np.array_equal(back.descriptors, lf.descriptors)


def test_bytes_round_trip_of_empty_features() -> None:
    lf = extract_local_features(np.full((64, 64, 3), 0, np.uint8), kind="orb")
    back = from_bytes(to_bytes(lf))
    assert len(back) == 0 and back.descriptors.shape == (0, 32)


def test_sift_bytes_are_compact(packaging: np.ndarray) -> None:
    lf = extract_local_features(packaging, max_features=1000)
    assert len(to_bytes(lf)) < len(lf) * (128 + 8)  # uint8 descriptors, compressed


@pytest.mark.parametrize("data", [b"", b"DLLF", b"XXXX" + bytes(40), b"DLLF\x01\x00" + bytes(18) + b"junk"])
def test_corrupt_bytes_are_rejected(data: bytes) -> None:
    with pytest.raises(BadInput) as err:
        from_bytes(data)
    assert err.value.reason == "corrupt_features"


def test_truncated_bytes_are_rejected(packaging: np.ndarray) -> None:
    data = to_bytes(extract_local_features(packaging))
    with pytest.raises(BadInput):
        from_bytes(data[:-100])


def test_local_features_length_is_the_keypoint_count() -> None:
    lf = LocalFeatures(np.zeros((3, 2), np.float32), np.zeros((3, 32), np.uint8), 10, 10, "orb")
    assert len(lf) == 3


def test_region_features_at_half_scale_see_the_crop_at_half_size_in_the_whole_images_coordinates(packaging: np.ndarray) -> None:
    frame = np.zeros((packaging.shape[0] + 200, packaging.shape[1] + 300, 3), np.uint8)
    frame[100:100 + packaging.shape[0], 150:150 + packaging.shape[1]] = packaging
    region = (150, 100, packaging.shape[1], packaging.shape[0])
    full = extract_region_features(frame, region)
    half = extract_region_features(frame, region, scale=0.5)
    assert 0 < len(half) < len(full)
    assert (half.width, half.height) == (frame.shape[1], frame.shape[0])
    x, y = half.points[:, 0], half.points[:, 1]
    assert x.min() >= 150 - 1 and x.max() <= 150 + packaging.shape[1] + 1
    assert y.min() >= 100 - 1 and y.max() <= 100 + packaging.shape[0] + 1
