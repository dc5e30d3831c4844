"""The torch-free path: the default model run from its cached ONNX export."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from deeplens.config import Settings
from deeplens.errors import BadInput
from inference.local_embedder import LocalEmbedder
from inference.onnx_runtime import OnnxEmbedder, open_export


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """A model cache holding the export, made the way a first process makes it."""
    directory = tmp_path_factory.mktemp("model-cache")
    LocalEmbedder("mobilenet_v2", device="cpu", cache_dir=directory).load()
    return directory


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [cv2.GaussianBlur(rng.integers(0, 256, (180 + 20 * i, 240 + 10 * i, 3), dtype=np.uint8), (5, 5), 0) for i in range(5)]


def test_without_a_cached_export_there_is_no_torch_free_model(tmp_path):
    assert open_export(Settings(model_cache_dir=tmp_path, torch_threads=1)) is None


def test_a_cached_export_gives_the_torch_models_embeddings_and_probabilities(cache, images):
    exported = open_export(Settings(model_cache_dir=cache, torch_threads=1))
    assert isinstance(exported, OnnxEmbedder) and exported.model_name == "mobilenet_v2"
    on_torch = LocalEmbedder("mobilenet_v2", device="cpu", batch_size=2, engine="torch").load()
    vectors, probabilities = exported.embed_and_classify(images)
    torch_vectors, torch_probabilities = on_torch.embed_and_classify(images)
    assert vectors.dtype == np.float32 and vectors.shape == (len(images), 1280)
    assert np.abs(vectors - torch_vectors).max() < 1e-4
    assert np.abs(probabilities - torch_probabilities).max() < 1e-4
    assert np.allclose(exported.embed_images(images), vectors)


def test_the_pipeline_embeds_without_importing_torch_once_the_export_is_cached(cache, tmp_path):
    script = (
        "import sys\n"
        "from deeplens.config import Settings\n"
        "from deeplens.pipeline.services import make_embedder\n"
        "import numpy as np\n"
        "embedder = make_embedder(Settings())\n"
        "embedder.embed_images([np.zeros((32, 32, 3), np.uint8)])\n"
        "print(type(embedder).__name__, 'torch' in sys.modules)\n"
    )
    env = {**os.environ, "DEEPLENS_MODEL_CACHE_DIR": str(cache), "DEEPLENS_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["OnnxEmbedder", "False"]


def test_bad_images_are_bad_input_and_no_images_an_empty_matrix(cache):
    exported = open_export(Settings(model_cache_dir=cache, torch_threads=1))
    with pytest.raises(BadInput):
        exported.embed_images([np.zeros((8, 8), np.float32)])
    assert exported.embed_images([]).shape == (0, 1280)


def test_no_images_give_empty_embeddings_and_probabilities_with_the_class_count(cache):
    exported = open_export(Settings(model_cache_dir=cache, torch_threads=1))
    vectors, probabilities = exported.embed_and_classify([])
    assert vectors.shape == (0, 1280) and probabilities.shape == (0, 1000)
