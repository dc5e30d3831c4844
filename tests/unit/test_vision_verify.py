"""Geometric verification: true products are found and boxed, impostors are rejected."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from synthkit import Scene, make_background, make_packaging, place_product

from deeplens.vision.local_features import LocalFeatures, extract_local_features, from_bytes, to_bytes
from deeplens.vision.verify import SanityLimits, Verification, check_outline, product_outline, verify_pair

# A tilted, perspective-warped placement in a 960x540 frame.
QUAD = [(300, 120), (520, 140), (510, 430), (290, 400)]


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


@pytest.fixture(scope="module")
def product() -> np.ndarray:
    return make_packaging(0)


@pytest.fixture(scope="module")
def product_features(product: np.ndarray) -> LocalFeatures:
    return extract_local_features(product)


@pytest.fixture(scope="module")
def scene(product: np.ndarray) -> Scene:
    return place_product(make_background(1000), product, QUAD)


@pytest.fixture(scope="module")
def found(product_features: LocalFeatures, scene: Scene) -> Verification:
    v = verify_pair(product_features, extract_local_features(scene.image))
    assert v is not None
    return v


def test_a_warped_product_is_found_with_a_box_matching_the_truth(found: Verification, scene: Scene) -> None:
    assert iou(found.box, scene.box) > 0.8


def test_the_projected_outline_lies_on_the_true_corners(found: Verification, scene: Scene) -> None:
    assert np.abs(found.corners - scene.quad).max() < 6


def bounds(quad: np.ndarray) -> tuple[int, int, int, int]:
    (x0, y0), (x1, y1) = quad.min(axis=0), quad.max(axis=0)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def on_backdrop(product: np.ndarray, margin: int, turn: float) -> tuple[np.ndarray, np.ndarray]:
    """A photo of ``product`` turned ``turn`` degrees on a plain backdrop ``margin`` pixels
    wider on every side, and the product's corners in it."""
    h, w = product.shape[:2]
    placing = cv2.getRotationMatrix2D((w / 2, h / 2), turn, 1.0)
    placing[:, 2] += margin
    photo = cv2.warpAffine(product, placing, (w + 2 * margin, h + 2 * margin), borderValue=(225, 225, 225))
    return photo, cv2.transform(np.array([[[0, 0], [w, 0], [w, h], [0, h]]], np.float64), placing)[0]


def test_a_photo_cropped_to_the_product_is_outlined_edge_to_edge(product: np.ndarray, product_features: LocalFeatures) -> None:
    h, w = product.shape[:2]
    assert np.array_equal(product_outline(product_features), [[0, 0], [w, 0], [w, h], [0, h]])


@pytest.mark.parametrize(("margin", "turn"), [(80, 0), (150, 25), (150, -30)])
def test_a_product_on_a_plain_backdrop_is_outlined_by_its_keypoints_not_the_photo(product: np.ndarray, margin: int, turn: float) -> None:
    photo, corners = on_backdrop(product, margin, turn)
    outline = product_outline(extract_local_features(photo))
    assert iou(bounds(outline), bounds(corners)) > 0.85


@pytest.mark.parametrize(("margin", "turn"), [(80, 0), (150, -30)])
def test_a_product_photographed_on_a_backdrop_is_boxed_as_the_product_in_the_frame(
    product: np.ndarray, scene: Scene, margin: int, turn: float
) -> None:
    # Boxing the whole photo would take in the projected backdrop, about twice the product's area.
    photo, _ = on_backdrop(product, margin, turn)
    found = verify_pair(extract_local_features(photo), extract_local_features(scene.image))
    assert found is not None and iou(found.box, scene.box) > 0.8


def test_the_found_match_reports_consistent_counts(found: Verification) -> None:
    assert found.inliers >= 30
    assert found.inliers <= found.matches
    assert found.inlier_ratio == pytest.approx(found.inliers / found.matches)
    assert found.inlier_points.shape == (found.inliers, 4)
    assert found.homography.shape == (3, 3)
    assert 0.0 < found.score < 1.0 and found.coverage > 0.8


def test_inlier_points_map_product_to_frame_through_the_homography(found: Verification) -> None:
    src = found.inlier_points[:, :2].reshape(-1, 1, 2).astype(np.float64)
    projected = cv2.perspectiveTransform(src, found.homography).reshape(-1, 2)
    assert np.abs(projected - found.inlier_points[:, 2:]).max() < 5.0


def test_an_unrelated_product_is_rejected(product_features: LocalFeatures) -> None:
    other = make_packaging(200, text="FIZZY COLA")
    frame = extract_local_features(place_product(make_background(1000), other, QUAD).image)
    assert verify_pair(product_features, frame) is None


def test_a_look_alike_sharing_the_text_but_not_the_graphics_is_rejected(
    product_features: LocalFeatures,
) -> None:
    look_alike = make_packaging(100)  # same text block, different graphics
    frame = extract_local_features(place_product(make_background(1000), look_alike, QUAD).image)
    assert verify_pair(product_features, frame) is None


def test_the_look_alike_would_pass_on_inlier_count_alone(product_features: LocalFeatures) -> None:
    # Why coverage exists: the shared text alone yields many consistent inliers.
    look_alike = make_packaging(100)
    frame = extract_local_features(place_product(make_background(1000), look_alike, QUAD).image)
    loose = verify_pair(product_features, frame, min_coverage=0.0)
    assert loose is not None and loose.inliers >= 30 and loose.coverage < 0.5


def test_a_frame_without_the_product_is_rejected(product_features: LocalFeatures) -> None:
    assert verify_pair(product_features, extract_local_features(make_background(1000))) is None


def test_the_product_is_found_in_a_large_frame_with_the_box_in_its_pixels(
    product_features: LocalFeatures, scene: Scene
) -> None:
    big = cv2.resize(scene.image, (1920, 1080), interpolation=cv2.INTER_LINEAR)
    v = verify_pair(product_features, extract_local_features(big))
    assert v is not None
    x, y, w, h = scene.box
    assert iou(v.box, (2 * x, 2 * y, 2 * w, 2 * h)) > 0.8


def test_a_product_partly_out_of_frame_is_found_and_its_box_clipped(
    product: np.ndarray, product_features: LocalFeatures
) -> None:
    scene = place_product(make_background(7), product, [(800, 100), (1100, 100), (1100, 500), (800, 500)])
    v = verify_pair(product_features, extract_local_features(scene.image))
    assert v is not None
    assert v.box[0] + v.box[2] <= 960
    assert iou(v.box, scene.box) > 0.8


def test_verification_works_on_features_loaded_from_bytes(
    product_features: LocalFeatures, scene: Scene, found: Verification
) -> None:
    frame = from_bytes(to_bytes(extract_local_features(scene.image)))
    v = verify_pair(from_bytes(to_bytes(product_features)), frame)
    assert v is not None and v.inliers == found.inliers


def test_orb_features_find_the_product_too(product: np.ndarray, scene: Scene) -> None:
    v = verify_pair(extract_local_features(product, kind="orb"), extract_local_features(scene.image, kind="orb"))
    assert v is not None and iou(v.box, scene.box) > 0.8


def test_min_inliers_above_what_the_frame_offers_rejects(
    product_features: LocalFeatures, scene: Scene, found: Verification
) -> None:
    frame = extract_local_features(scene.image)
    assert verify_pair(product_features, frame, min_inliers=found.inliers + 1) is None


def test_matching_sift_against_orb_is_a_value_error(product: np.ndarray, product_features: LocalFeatures) -> None:
    with pytest.raises(ValueError):
        verify_pair(product_features, extract_local_features(product, kind="orb"))


# --- the outline sanity check, on hand-made homographies -------------------------------

OUTLINE = np.array([[0, 0], [360, 0], [360, 480], [0, 480]], np.float64)
FRAME = (960, 540)


def _H(quad: list[tuple[float, float]]) -> np.ndarray:
    return cv2.getPerspectiveTransform(OUTLINE.astype(np.float32), np.array(quad, np.float32))


def test_outline_accepts_a_moderate_perspective_view() -> None:
    assert check_outline(_H([(300, 100), (500, 160), (500, 380), (300, 440)]), OUTLINE, FRAME) is not None


def test_outline_accepts_a_rotated_view() -> None:
    assert check_outline(_H([(600, 100), (600, 400), (200, 400), (200, 100)]), OUTLINE, FRAME) is not None


def test_outline_rejects_a_self_intersecting_bow_tie() -> None:
    assert check_outline(_H([(300, 100), (500, 100), (300, 400), (500, 400)]), OUTLINE, FRAME) is None


def test_outline_rejects_a_mirror_image() -> None:
    assert check_outline(_H([(500, 100), (300, 100), (300, 400), (500, 400)]), OUTLINE, FRAME) is None


def test_outline_rejects_a_tiny_projection() -> None:
    assert check_outline(_H([(100, 100), (104, 100), (104, 105), (100, 105)]), OUTLINE, FRAME) is None


def test_outline_rejects_a_projection_larger_than_the_frame() -> None:
    assert check_outline(_H([(-500, -500), (1500, -500), (1500, 1000), (-500, 1000)]), OUTLINE, FRAME) is None


def test_outline_rejects_an_extreme_perspective_collapse() -> None:
    assert check_outline(_H([(300, 100), (700, 250), (700, 270), (300, 440)]), OUTLINE, FRAME) is None


def test_outline_rejects_an_extreme_aspect_change() -> None:
    assert check_outline(_H([(100, 200), (800, 200), (800, 300), (100, 300)]), OUTLINE, FRAME) is None


def test_outline_rejects_a_strong_shear() -> None:
    # Corner angles of about 31 degrees: a parallelogram squashed almost flat.
    assert check_outline(_H([(300, 100), (450, 100), (950, 400), (800, 400)]), OUTLINE, FRAME) is None


def test_outline_rejects_a_homography_sending_corners_behind_the_camera() -> None:
    H = np.array([[1.0, 0, 0], [0, 1.0, 0], [-0.004, 0, 1.0]])  # w < 0 for x > 250
    assert check_outline(H, OUTLINE, FRAME) is None


def test_outline_limits_are_parameters() -> None:
    tiny = _H([(100, 100), (104, 100), (104, 105), (100, 105)])
    assert check_outline(tiny, OUTLINE, FRAME, SanityLimits(min_area_fraction=0.0)) is not None


def test_sift_nearest_neighbours_agree_with_opencv_brute_force(
    product_features: LocalFeatures, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deeplens.vision import verify

    frame = extract_local_features(scene.image)
    knn = cv2.BFMatcher(cv2.NORM_L2).knnMatch(product_features.descriptors, frame.descriptors, k=2)
    expected_d1 = np.array([m[0].distance for m in knn]) ** 2
    expected_d2 = np.array([m[1].distance for m in knn]) ** 2
    monkeypatch.setattr(verify, "_BLOCK", 5000)  # force several row blocks
    _, d1, d2 = verify._knn2_l2(product_features.descriptors, frame.descriptors)
    assert np.allclose(d1, expected_d1, rtol=1e-4, atol=0.5)
    assert np.allclose(d2, expected_d2, rtol=1e-4, atol=0.5)
