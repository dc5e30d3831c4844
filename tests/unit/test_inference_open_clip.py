"""open_clip loading, tested with a tiny random-weight checkpoint the tests create."""

from __future__ import annotations

import numpy as np
import pytest
from openclipkit import TINY_CLIP, save_open_clip_checkpoint

from deeplens.errors import NotFound
from inference.checkpoints import CONFIG_FILE
from inference.local_embedder import LocalEmbedder
from inference.registry import get_spec


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_open_clip_checkpoint("tiny-test", tmp_path_factory.mktemp("models") / "tiny-test", seed=0, **TINY_CLIP)


@pytest.fixture(scope="module")
def predictor(checkpoint):
    return LocalEmbedder("open_clip:tiny-test", model_dir=checkpoint, device="cpu", batch_size=2).load()


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, (40 + 9 * i, 50 + 5 * i, 3), dtype=np.uint8) for i in range(3)]


TEXTS = ["a red running shoe", "a blue backpack", "a black wristwatch", "sunglasses"]


def test_saved_checkpoint_has_config_and_safetensors_weights(checkpoint):
    assert (checkpoint / CONFIG_FILE).is_file() and (checkpoint / "open_clip_model.safetensors").is_file()
    assert get_spec("open_clip:tiny-test", model_dir=checkpoint).dim == 32


def test_image_and_text_embeddings_have_the_spec_dimension_and_unit_norm(predictor, images):
    image_vectors, text_vectors = predictor.embed_images(images), predictor.embed_texts(TEXTS)
    assert image_vectors.shape == (3, predictor.spec.dim) and text_vectors.shape == (4, predictor.spec.dim)
    assert image_vectors.dtype == np.float32 and text_vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(image_vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(text_vectors, axis=1), 1.0, atol=1e-5)


def test_embeddings_are_deterministic_across_loads(predictor, checkpoint, images):
    again = LocalEmbedder("open_clip:tiny-test", model_dir=checkpoint, device="cpu").load()
    np.testing.assert_allclose(again.embed_images(images), predictor.embed_images(images), atol=1e-6)
    np.testing.assert_allclose(again.embed_texts(TEXTS), predictor.embed_texts(TEXTS), atol=1e-6)


def test_same_seed_writes_the_same_weights(tmp_path, predictor):
    other = save_open_clip_checkpoint("tiny-test", tmp_path, seed=0, **TINY_CLIP)
    reloaded = LocalEmbedder("open_clip:tiny-test", model_dir=other, device="cpu").load()
    np.testing.assert_allclose(reloaded.embed_texts(TEXTS), predictor.embed_texts(TEXTS), atol=1e-6)


def test_embed_texts_batches_give_the_same_vectors_as_one_by_one(predictor):
    batched = predictor.embed_texts(TEXTS)  # batch_size=2 → two batches
    single = np.concatenate([predictor.embed_texts([t]) for t in TEXTS])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_empty_text_list_gives_an_empty_matrix(predictor):
    assert predictor.embed_texts([]).shape == (0, 32)


def test_model_directory_may_hold_one_subdirectory_per_architecture(checkpoint):
    nested = LocalEmbedder("open_clip:tiny-test", model_dir=checkpoint.parent, device="cpu")
    assert nested.spec.dim == 32 and nested.embed_texts(["x"]).shape == (1, 32)


def test_checkpoint_without_weights_raises_not_found_instead_of_random_weights(tmp_path, checkpoint):
    (tmp_path / CONFIG_FILE).write_text((checkpoint / CONFIG_FILE).read_text())
    with pytest.raises(NotFound, match="no weights"):
        LocalEmbedder("open_clip:tiny-test", model_dir=tmp_path, device="cpu").load()


def test_open_clip_model_without_checkpoint_or_pretrained_tag_raises_not_found(tmp_path):
    predictor = LocalEmbedder("open_clip:ViT-B-32", model_dir=tmp_path, device="cpu")
    with pytest.raises(NotFound, match="DEEPLENS_MODEL_DIR"):
        predictor.load()
