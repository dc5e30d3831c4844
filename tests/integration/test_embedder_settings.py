"""The pipeline's in-process model and the model server's give the same vectors, for every setting that shapes them.

Each configuration below (``DEEPLENS_*`` variables) is embedded twice: in process, by
:func:`deeplens.pipeline.services.make_embedder` as a step without
``DEEPLENS_PREDICTOR_URL`` runs it, and over HTTP by a real KServe server whose model is
built from the same variables by :func:`inference.server.served_model`, as
``python -m inference`` builds it (tests/integration/served_models.py: all the
configurations in one server process, which keeps the test fast).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from openclipkit import TINY_CLIP, save_open_clip_checkpoint
from servingkit import free_port, server_process

from deeplens.config import Settings
from deeplens.pipeline.services import Embedder, make_embedder
from inference.client import RemotePredictor

CLIP = "open_clip:tiny-both-ways"
TEXTS = ["a red running shoe", "a blue backpack", "a black wristwatch"]

# name -> (variables, what runs the model in process). "auto" runs mobilenet_v2's ONNX export
# on ONNX Runtime: in process from the cached export without torch (the server, started first,
# made it), in the server by the LocalEmbedder.
CONFIGS: dict[str, tuple[dict[str, str], str]] = {
    "defaults": ({}, "OnnxEmbedder"),
    "resize-shortest": ({"DEEPLENS_RESIZE_MODE": "shortest"}, "OnnxEmbedder"),
    "resize-longest": ({"DEEPLENS_RESIZE_MODE": "longest"}, "OnnxEmbedder"),
    "onnxruntime-in-batches-of-2": ({"DEEPLENS_INFERENCE_ENGINE": "onnxruntime", "DEEPLENS_BATCH_SIZE": "2"}, "OnnxEmbedder"),
    "one-thread": ({"DEEPLENS_TORCH_THREADS": "1", "DEEPLENS_DEVICE": "cpu"}, "OnnxEmbedder"),
    "torch": ({"DEEPLENS_INFERENCE_ENGINE": "torch"}, "LocalEmbedder"),
    "torch-shortest-in-batches-of-3": (
        {"DEEPLENS_INFERENCE_ENGINE": "torch", "DEEPLENS_RESIZE_MODE": "shortest", "DEEPLENS_BATCH_SIZE": "3"}, "LocalEmbedder"
    ),
    "torch-fp16-on-the-cpu": ({"DEEPLENS_INFERENCE_ENGINE": "torch", "DEEPLENS_DEVICE": "cpu", "DEEPLENS_HALF": "true"}, "LocalEmbedder"),
    "open-clip-checkpoint": ({"DEEPLENS_MODEL": CLIP, "DEEPLENS_RESIZE_MODE": "longest"}, "LocalEmbedder"),  # + DEEPLENS_MODEL_DIR
}
if torch.cuda.is_available():
    CONFIGS |= {
        "cuda": ({"DEEPLENS_DEVICE": "cuda"}, "LocalEmbedder"),  # fp16 by default
        "cuda-fp32-longest": ({"DEEPLENS_DEVICE": "cuda", "DEEPLENS_HALF": "false", "DEEPLENS_RESIZE_MODE": "longest"}, "LocalEmbedder"),
        "cuda-open-clip": ({"DEEPLENS_DEVICE": "cuda", "DEEPLENS_MODEL": CLIP}, "LocalEmbedder"),
    }


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> dict[str, str]:
    """What every configuration shares: a fresh model cache, and the open_clip checkpoint directory."""
    models = tmp_path_factory.mktemp("models")
    save_open_clip_checkpoint(CLIP.removeprefix("open_clip:"), models / CLIP.removeprefix("open_clip:"), seed=2, **TINY_CLIP)
    return {"DEEPLENS_MODEL_CACHE_DIR": str(tmp_path_factory.mktemp("model-cache")), "DEEPLENS_MODEL_DIR": str(models)}


@pytest.fixture(scope="module")
def server(tmp_path_factory, shared) -> Iterator[str]:
    configs = tmp_path_factory.mktemp("configs") / "configs.json"
    configs.write_text(json.dumps({name: variables for name, (variables, _) in CONFIGS.items()}))
    port = free_port()
    command = [sys.executable, str(Path(__file__).with_name("served_models.py")), "--http_port", str(port), "--configs", str(configs)]
    with server_process(command, port, tmp_path_factory.mktemp("served"), shared, ready_path="/v2/health/ready") as url:
        yield url


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    """Frames and photos of several shapes, so that the resize modes differ."""
    rng = np.random.default_rng(5)
    out = []
    for i, (h, w) in enumerate([(90, 160), (120, 80), (64, 64), (200, 100), (50, 300)]):
        img = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (5, 5), 0)
        cv2.circle(img, (w // 3, h // 2), min(h, w) // 4, (40 * i, 255 - 40 * i, 90), -1)
        out.append(img)
    return out


def in_process(monkeypatch, shared: dict[str, str], name: str) -> Embedder:
    for variable, value in (shared | CONFIGS[name][0]).items():
        monkeypatch.setenv(variable, value)
    return make_embedder(Settings())


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_in_process_and_the_served_model_give_the_same_vectors(server, shared, images, monkeypatch, name):
    local = in_process(monkeypatch, shared, name)
    assert type(local).__name__ == CONFIGS[name][1]
    with RemotePredictor(server, name) as remote:
        np.testing.assert_allclose(remote.embed_images(images), local.embed_images(images), atol=1e-4)
        if local.supports_classify:
            remote_vectors, remote_probabilities = remote.embed_and_classify(images)
            local_vectors, local_probabilities = local.embed_and_classify(images)
            np.testing.assert_allclose(remote_vectors, local_vectors, atol=1e-4)
            np.testing.assert_allclose(remote_probabilities, local_probabilities, atol=1e-5)
        else:
            np.testing.assert_allclose(remote.embed_texts(TEXTS), local.embed_texts(TEXTS), atol=1e-4)


def test_the_settings_compared_do_change_the_vectors(server, images):
    """Else the comparison above could pass with a setting that neither side reads."""
    def served(name: str) -> np.ndarray:
        with RemotePredictor(server, name) as remote:
            return remote.embed_images(images)

    squash = served("defaults")
    for other in ("resize-shortest", "resize-longest", "torch-fp16-on-the-cpu"):
        assert np.abs(served(other) - squash).max() > 1e-3, other
