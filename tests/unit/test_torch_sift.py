"""SIFT in torch (the GPU path) computes OpenCV's SIFT: its frames match a catalog extracted by OpenCV.

These run the torch code on the CPU, the same operations a GPU runs; bench/gpu.py measures it
on a GPU.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from pydantic import ValidationError
from synthkit import make_background, make_packaging, place_product

from deeplens.config import Settings
from deeplens.vision import torch_sift
from deeplens.vision.local_features import extract_local_features
from deeplens.vision.verify import verify_pair

QUAD = [(150, 60), (260, 70), (255, 215), (145, 200)]


@pytest.fixture(scope="module")
def gray() -> np.ndarray:
    return cv2.cvtColor(make_packaging(3, size=(240, 320)), cv2.COLOR_BGR2GRAY)


@pytest.fixture(scope="module")
def both(gray: np.ndarray) -> tuple[tuple, torch_sift.Keypoints]:
    return cv2.SIFT_create(nfeatures=400).detectAndCompute(gray, None), torch_sift.detect_and_compute(
        gray, max_features=400, device="cpu"
    )


def _same_place(opencv_points: np.ndarray, points: np.ndarray) -> np.ndarray:
    """For each OpenCV keypoint, the indices of torch keypoints within 0.05 px of it."""
    return [np.nonzero(np.abs(points - p).max(axis=1) < 0.05)[0] for p in opencv_points]


def test_the_keypoints_are_opencvs(both) -> None:
    (keypoints, _), found = both
    expected = np.array([k.pt for k in keypoints], np.float32)
    located = [len(i) > 0 for i in _same_place(expected, found.points)]
    assert len(keypoints) > 200
    assert abs(len(found.points) - len(keypoints)) <= 0.02 * len(keypoints)
    assert np.mean(located) >= 0.98


def test_the_descriptors_are_opencvs_within_one_step(both) -> None:
    (keypoints, descriptors), found = both
    expected = np.array([k.pt for k in keypoints], np.float32)
    closest = [
        np.abs(found.descriptors[same] - d).max(axis=1).min()
        for same, d in zip(_same_place(expected, found.points), descriptors, strict=True)
        if len(same)
    ]
    assert np.mean(np.array(closest) <= 1) >= 0.95


def test_at_most_max_features_are_kept_the_strongest(gray: np.ndarray) -> None:
    every = torch_sift.detect_and_compute(gray, max_features=10_000, device="cpu")
    few = torch_sift.detect_and_compute(gray, max_features=50, device="cpu")
    assert len(few.points) == 50
    assert few.responses.min() >= np.sort(every.responses)[-50]


def test_an_image_without_texture_has_no_keypoints() -> None:
    flat = np.full((120, 160, 3), 128, np.uint8)
    features = extract_local_features(flat, device="cpu")
    assert len(features) == 0 and features.descriptors.shape == (0, 128)


def test_a_frame_described_in_torch_matches_a_product_described_by_opencv() -> None:
    product = make_packaging(0)
    frame = place_product(make_background(1000, size=(480, 270)), product, QUAD)
    catalog = extract_local_features(product, max_side=240)
    by_opencv = verify_pair(catalog, extract_local_features(frame.image), min_inliers=20)
    by_torch = verify_pair(catalog, extract_local_features(frame.image, device="cpu"), min_inliers=20)
    assert by_opencv is not None and by_torch is not None
    assert abs(by_torch.inliers - by_opencv.inliers) <= 0.1 * by_opencv.inliers
    assert np.abs(np.subtract(by_torch.box, by_opencv.box)).max() <= 2


def test_the_setting_takes_torch_devices_only() -> None:
    assert Settings(local_features_device="cuda:1").local_features_device == "cuda:1"
    with pytest.raises(ValidationError):
        Settings(local_features_device="gpu")
