"""The synthetic dataset generator: deterministic, self-consistent, and true to its files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from deeplens.datagen import PRESETS, GroundTruth, Preset, generate_catalog, generate_dataset
from deeplens.datagen.geometry import Pose, box_from_quad, overlap_ratio, project_quad

SEED = 7


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, GroundTruth]:
    root = tmp_path_factory.mktemp("tiny")
    return root, generate_dataset(root, "tiny", seed=SEED)


def all_appearances(truth: GroundTruth):
    for video_id, video in truth.videos.items():
        for a in video.appearances:
            yield video_id, video, a


# -- determinism --------------------------------------------------------------------------


def test_the_same_seed_gives_an_identical_truth(dataset, tmp_path):
    root, truth = dataset
    again = generate_dataset(tmp_path, "tiny", seed=SEED)
    assert again.to_dict() == truth.to_dict()
    assert (tmp_path / "truth.json").read_text() == (root / "truth.json").read_text()


def test_the_same_seed_gives_identical_photos(dataset, tmp_path):
    root, truth = dataset
    generate_dataset(tmp_path, "tiny", seed=SEED)
    for sku, product in truth.products.items():
        for photo in product.photos:
            assert (tmp_path / "products" / sku / photo).read_bytes() == (root / "products" / sku / photo).read_bytes()


def test_a_different_seed_gives_a_different_dataset(dataset, tmp_path):
    root, truth = dataset
    other = generate_dataset(tmp_path, "tiny", seed=SEED + 1)
    assert other.to_dict()["videos"] != truth.to_dict()["videos"]
    sku = min(truth.products)
    assert (tmp_path / "products" / sku / "front.jpg").read_bytes() != (root / "products" / sku / "front.jpg").read_bytes()


def test_a_catalog_alone_is_the_datasets_catalog_under_its_own_sku_prefix(dataset, tmp_path):
    root, truth = dataset
    products = generate_catalog(tmp_path / "products", "tiny", seed=SEED, sku_prefix="EXTRA")
    assert sorted(products) == sorted(sku.replace("SKU", "EXTRA") for sku in truth.products)
    for sku, product in truth.products.items():
        extra = products[sku.replace("SKU", "EXTRA")]
        assert extra.photos == product.photos
        assert extra.lookalike_of == (product.lookalike_of and product.lookalike_of.replace("SKU", "EXTRA"))
        for photo in product.photos:
            assert (tmp_path / "products" / sku.replace("SKU", "EXTRA") / photo).read_bytes() == (root / "products" / sku / photo).read_bytes()
    assert not (tmp_path / "videos").exists()


# -- files ----------------------------------------------------------------------------------


def test_every_photo_named_in_the_truth_is_a_readable_image(dataset):
    root, truth = dataset
    assert len(truth.products) == PRESETS["tiny"].n_products
    for sku, product in truth.products.items():
        assert product.photos[0] == "front.jpg"
        for photo in product.photos:
            image = cv2.imread(str(root / "products" / sku / photo))
            assert image is not None and image.ndim == 3, f"{sku}/{photo}"


def test_product_folders_are_named_by_sku(dataset):
    root, truth = dataset
    assert sorted(p.name for p in (root / "products").iterdir()) == sorted(truth.products)
    assert all(sku.startswith("SKU-") for sku in truth.products)


def test_videos_read_back_with_the_frame_count_and_size_in_the_truth(dataset):
    root, truth = dataset
    assert sorted(p.stem for p in (root / "videos").glob("*.mp4")) == sorted(truth.videos)
    for video_id, video in truth.videos.items():
        cap = cv2.VideoCapture(str(root / "videos" / f"{video_id}.mp4"))
        frames = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            assert frame.shape == (video.height, video.width, 3)
            frames += 1
        cap.release()
        assert frames == video.frame_count == round(video.duration * video.fps)


def test_the_truth_file_loads_back_to_the_returned_truth(dataset):
    root, truth = dataset
    assert GroundTruth.from_json(root / "truth.json") == truth


def test_the_truth_file_follows_the_documented_schema(dataset):
    root, _ = dataset
    data = json.loads((root / "truth.json").read_text())
    assert data["preset"] == "tiny" and data["seed"] == SEED
    assert set(data) == {"preset", "seed", "products", "distractors", "videos"}
    video = next(iter(data["videos"].values()))
    assert {"duration", "fps", "width", "height", "frame_count", "appearances", "distractor_appearances"} <= set(video)
    for a in video["appearances"]:
        assert {"product", "start", "end", "boxes"} <= set(a)
        assert all(key.isdigit() and len(box) == 4 for key, box in a["boxes"].items())


# -- ground truth ---------------------------------------------------------------------------


def test_every_appearance_is_of_a_catalog_product(dataset):
    _, truth = dataset
    for _, _, a in all_appearances(truth):
        assert a.product in truth.products
    for video in truth.videos.values():
        for d in video.distractor_appearances:
            assert d.item in truth.distractors and d.item not in truth.products


def test_boxes_lie_within_the_frame(dataset):
    _, truth = dataset
    for _, video, a in all_appearances(truth):
        for frame, (x, y, w, h) in a.boxes.items():
            assert 0 <= frame < video.frame_count
            assert w > 0 and h > 0
            assert x >= 0 and y >= 0 and x + w <= video.width and y + h <= video.height


def test_products_are_shown_at_the_presets_scale(dataset):
    _, truth = dataset
    lo, hi = PRESETS["tiny"].scale
    for _, video, a in all_appearances(truth):
        for _, _, _, h in a.boxes.values():
            # Box height also carries the small rotation and tilt, hence the slack.
            assert 0.9 * lo <= h / video.height <= 1.25 * hi


def test_an_appearance_has_a_box_for_every_frame_from_start_to_end(dataset):
    _, truth = dataset
    for _, video, a in all_appearances(truth):
        frames = sorted(a.boxes)
        assert frames == list(range(frames[0], frames[-1] + 1))
        assert a.start == pytest.approx(frames[0] / video.fps, abs=1e-3)
        assert a.end == pytest.approx(frames[-1] / video.fps, abs=1e-3)


def test_each_appearance_lasts_at_least_the_presets_minimum(dataset):
    _, truth = dataset
    for _, video, a in all_appearances(truth):
        assert len(a.boxes) / video.fps >= PRESETS["tiny"].min_visible_s - 1e-6


def test_the_dataset_shows_some_products(dataset):
    _, truth = dataset
    assert sum(len(v.appearances) for v in truth.videos.values()) >= 1


def test_products_on_screen_together_do_not_overlap_heavily(dataset):
    _, truth = dataset
    for video in truth.videos.values():
        stays = [a.boxes for a in video.appearances] + [d.boxes for d in video.distractor_appearances]
        for i, first in enumerate(stays):
            for second in stays[i + 1 :]:
                for frame in first.keys() & second.keys():
                    assert overlap_ratio(first[frame], second[frame]) <= 0.2


def test_visible_names_the_products_on_screen_at_a_time(dataset):
    _, truth = dataset
    video_id, video, a = next(all_appearances(truth))
    assert a.product in truth.visible(video_id, a.start)
    assert a.product in truth.visible(video_id, (a.start + a.end) / 2)
    assert a.product in truth.visible(video_id, a.end)
    later = a.end + 1.0 / video.fps
    others = [b for b in video.appearances if b.product == a.product and b is not a]
    if not any(b.start <= later <= b.end for b in others):
        assert a.product not in truth.visible(video_id, later)


def test_visible_is_empty_outside_the_video(dataset):
    _, truth = dataset
    video_id, video = next(iter(truth.videos.items()))
    assert truth.visible(video_id, -1.0) == set()
    assert truth.visible(video_id, video.duration + 1.0) == set()


def test_a_lookalike_points_to_another_catalog_product(dataset):
    _, truth = dataset
    pointers = [p.lookalike_of for p in truth.products.values() if p.lookalike_of]
    assert len(pointers) == PRESETS["tiny"].lookalikes
    for sku, product in truth.products.items():
        if product.lookalike_of:
            assert product.lookalike_of in truth.products and product.lookalike_of != sku


def test_a_product_that_leaves_and_returns_has_two_appearances(tmp_path):
    preset = dataclasses.replace(
        PRESETS["tiny"], name="returns", n_videos=1, duration_s=4.0, products_per_video=(1, 1), leave_and_return=1.0,
        occlusion=0.0, distractors=0, distractors_per_video=(0, 0),
    )  # fmt: skip
    truth = generate_dataset(tmp_path, preset, seed=1)
    (video,) = truth.videos.values()
    first, second = video.appearances
    assert first.product == second.product
    assert second.start - first.end >= 1.0


# -- the output folder ----------------------------------------------------------------------


def test_regenerating_into_a_dataset_folder_replaces_the_old_dataset(tmp_path):
    generate_dataset(tmp_path, dataclasses.replace(PRESETS["tiny"], n_videos=1, n_products=3), seed=1)
    stale = tmp_path / "products" / "SKU-9999"
    stale.mkdir()
    generate_dataset(tmp_path, dataclasses.replace(PRESETS["tiny"], n_videos=1), seed=2)
    assert not stale.exists()
    assert GroundTruth.from_json(tmp_path / "truth.json").seed == 2


def test_a_folder_with_foreign_files_is_refused(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "holiday.mp4").write_bytes(b"not ours")
    with pytest.raises(FileExistsError):
        generate_dataset(tmp_path, "tiny")
    assert (tmp_path / "videos" / "holiday.mp4").exists()


def test_progress_is_reported_per_product_and_per_video(tmp_path):
    calls: list[tuple[str, int, int]] = []
    generate_dataset(tmp_path, dataclasses.replace(PRESETS["tiny"], n_videos=1), progress=lambda *c: calls.append(c))
    assert ("products", 3, 3) in calls and ("videos", 1, 1) in calls
    assert calls[0] == ("products", 0, 3)


# -- presets and geometry -------------------------------------------------------------------


def test_the_demo_bench_and_tiny_presets_exist():
    assert {"demo", "bench", "tiny"} <= set(PRESETS)
    assert PRESETS["demo"].scale[0] >= 0.35 and PRESETS["demo"].distractors == 0
    assert PRESETS["bench"].lookalikes > 0 and PRESETS["bench"].distractors > 0


def test_an_unknown_preset_name_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown preset"):
        generate_dataset(tmp_path, "huge")


def test_an_inconsistent_preset_is_rejected_when_built():
    with pytest.raises(ValueError, match="scale"):
        dataclasses.replace(PRESETS["tiny"], scale=(0.6, 0.4))


def test_an_untilted_product_projects_to_an_upright_rectangle_of_its_height():
    quad = project_quad(300, 400, Pose(cx=100, cy=200, height=80))
    np.testing.assert_allclose(quad, [[70, 160], [130, 160], [130, 240], [70, 240]])


def test_a_box_is_clipped_to_the_frame():
    quad = np.array([[-10.0, -5.0], [50.0, -5.0], [50.0, 30.0], [-10.0, 30.0]])
    assert box_from_quad(quad, 40, 20) == (0, 0, 40, 20)
    assert box_from_quad(quad + 1000, 40, 20) is None


def test_a_custom_preset_object_is_accepted_and_named_in_the_truth(tmp_path):
    preset = Preset(name="mini", n_products=2, n_videos=1, duration_s=2.0, fps=8, width=160, height=120,
                    products_per_video=(1, 1), scale=(0.5, 0.6), min_visible_s=1.0, art_height=160)  # fmt: skip
    truth = generate_dataset(tmp_path, preset, seed=3)
    assert truth.preset == "mini" and truth.videos["video-01"].frame_count == 16
