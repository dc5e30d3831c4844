"""The default predictor: MobileNetV2 with the offline ImageNet weights."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deeplens.errors import BadInput, Unsupported
from inference.local_embedder import LocalEmbedder


def scene(seed: int, h: int = 240, w: int = 320) -> np.ndarray:
    """A procedural 'natural-ish' BGR image: gradient, shapes, lines, blur and noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = (xx / w * rng.uniform(0.2, 1) + yy / h * rng.uniform(0.2, 1))[..., None] / 2
    img = (c0 * (1 - t) + c1 * t).astype(np.uint8)
    for _ in range(25):
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        kind = rng.integers(0, 3)
        if kind == 0:
            axes = (int(rng.integers(5, 60)), int(rng.integers(5, 60)))
            cv2.ellipse(img, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, color, -1)
        elif kind == 1:
            cv2.rectangle(img, (cx, cy), (cx + int(rng.integers(5, 80)), cy + int(rng.integers(5, 80))), color, -1)
        else:
            end = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(img, (cx, cy), end, color, int(rng.integers(1, 6)))
    noise = rng.normal(0, 8, img.shape)
    return np.clip(cv2.GaussianBlur(img, (3, 3), 0) + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def predictor() -> LocalEmbedder:
    return LocalEmbedder("mobilenet_v2", device="cpu", batch_size=4).load()


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    return [scene(seed, h=200 + 10 * seed, w=260 + 15 * seed) for seed in range(6)]


def test_embeddings_are_unit_norm_float32_with_1280_dims(predictor, images):
    vectors = predictor.embed_images(images)
    assert vectors.shape == (6, 1280) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_batched_embeddings_equal_one_by_one_embeddings(predictor, images):
    batched = predictor.embed_images(images)  # batches of 4 and 2
    single = np.concatenate([predictor.embed_images([img]) for img in images])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_flipped_and_cropped_copy_is_closer_than_an_unrelated_image(predictor):
    for seed in range(3):
        original, unrelated = scene(seed), scene(seed + 100)
        h, w = original.shape[:2]
        variant = cv2.flip(original, 1)[int(h * 0.05) : int(h * 0.95), int(w * 0.05) : int(w * 0.95)]
        a, b, c = predictor.embed_images([original, variant, unrelated])
        assert a @ b > a @ c


def test_classifier_returns_1000_probabilities_summing_to_one(predictor, images):
    probs = predictor.classify(images[:3])
    assert probs.shape == (3, 1000) and probs.dtype == np.float32
    assert (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert len(predictor.class_names) == 1000


def test_embed_and_classify_matches_the_separate_calls(predictor, images):
    vectors, probs = predictor.embed_and_classify(images[:2])
    np.testing.assert_allclose(vectors, predictor.embed_images(images[:2]), atol=1e-5)
    np.testing.assert_allclose(probs, predictor.classify(images[:2]), atol=1e-5)


def test_text_on_an_image_only_model_raises_unsupported(predictor):
    with pytest.raises(Unsupported, match="no text tower"):
        predictor.embed_texts(["a red shoe"])


def test_empty_image_list_gives_an_empty_matrix(predictor):
    vectors = predictor.embed_images([])
    assert vectors.shape == (0, 1280) and vectors.dtype == np.float32


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((32, 32, 3), dtype=np.float32),
        np.zeros((32, 32), dtype=np.uint8),
        np.zeros((32, 32, 4), dtype=np.uint8),
        np.zeros((0, 32, 3), dtype=np.uint8),
        "not an image",
    ],
    ids=["float32", "grayscale", "four-channels", "empty", "string"],
)
def test_non_uint8_or_wrongly_shaped_images_raise_bad_input(predictor, bad):
    with pytest.raises(BadInput):
        predictor.embed_images([bad])


def test_a_single_image_instead_of_a_list_raises_bad_input(predictor, images):
    with pytest.raises(BadInput, match="list"):
        predictor.embed_images(images[0])


def test_lifecycle_steps_compose_to_embed_images(predictor, images):
    pixels = predictor.preprocess(images[:2])
    assert tuple(pixels.shape) == (2, 3, 224, 224)
    vectors = predictor.postprocess(predictor.predict(pixels))
    np.testing.assert_allclose(vectors, predictor.embed_images(images[:2]), atol=1e-6)


def test_load_is_idempotent(predictor):
    backend = predictor._backend
    assert predictor.load() is predictor and predictor._backend is backend and predictor.ready


def test_by_default_the_cpu_runs_the_onnx_export(predictor):
    assert predictor.describe()["engine"] == "onnxruntime"


def test_onnxruntime_and_torch_give_the_same_embeddings_and_probabilities(predictor, images):
    on_torch = LocalEmbedder("mobilenet_v2", device="cpu", batch_size=4, engine="torch").load()
    assert on_torch.describe()["engine"] == "torch"
    vectors, probabilities = predictor.embed_and_classify(images)
    torch_vectors, torch_probabilities = on_torch.embed_and_classify(images)
    assert np.abs(vectors - torch_vectors).max() < 1e-4
    assert np.abs(probabilities - torch_probabilities).max() < 1e-4


def test_the_onnx_export_is_made_once_and_reused(tmp_path, images):
    first = LocalEmbedder("mobilenet_v2", device="cpu", cache_dir=tmp_path).load()
    [export] = tmp_path.glob("*.onnx")
    stamp = export.stat().st_mtime_ns
    second = LocalEmbedder("mobilenet_v2", device="cpu", cache_dir=tmp_path).load()
    assert [p.name for p in tmp_path.iterdir()] == [export.name] and export.stat().st_mtime_ns == stamp
    assert np.array_equal(first.embed_images(images), second.embed_images(images))


def test_asking_onnxruntime_for_a_half_precision_model_is_unsupported():
    with pytest.raises(Unsupported, match="no ONNX Runtime path"):
        LocalEmbedder("mobilenet_v2", device="cpu", half=True, engine="onnxruntime").load()


def test_a_cache_directory_that_cannot_be_written_leaves_the_model_on_torch(tmp_path, images):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache directory should be")
    predictor = LocalEmbedder("mobilenet_v2", device="cpu", cache_dir=blocked / "cache").load()
    assert predictor.describe()["engine"] == "torch"
    assert predictor.embed_images(images).shape == (len(images), 1280)
