"""The embedding model in process: load → preprocess → predict → postprocess.

Modelled on KServe's model lifecycle (the KServe server adapter is a thin layer over
this class) with swappable back ends chosen by model name (:mod:`inference.registry`).

>>> p = LocalEmbedder("mobilenet_v2").load()
>>> vectors = p.embed_images([cv2.imread("shoe.jpg")])   # (1, 1280) float32, unit norm
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, get_args

import numpy as np
import torch

from deeplens.config import InferenceEngine, Settings, default_cache_dir, usable_cores
from deeplens.errors import BadInput, Unsupported

from .backends import Backend, create_backend
from .inputs import batches, check_images, check_texts
from .preprocessing import RESIZE_MODES, to_tensor
from .registry import DEFAULT_MODEL, ModelSpec, get_spec

log = logging.getLogger(__name__)

ENGINES = get_args(InferenceEngine)


def _probabilities(logits: torch.Tensor) -> np.ndarray:
    """Class logits → float32 numpy probabilities (softmax in float32, also after fp16)."""
    return logits.float().softmax(dim=1).cpu().numpy().astype(np.float32, copy=False)


class LocalEmbedder:
    """Embeds images (and texts, for models with a text tower) into L2-normalised float32 vectors.

    Thread-safe to load; ``embed_*`` may be called from several threads (torch releases
    the GIL; each call runs its own forward passes).
    """

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        *,
        device: str | None = None,
        batch_size: int = 16,
        model_dir: str | Path | None = None,
        pretrained: str | None = None,
        half: bool | None = None,
        num_threads: int | None = None,
        resize_mode: str = "squash",
        engine: str = "auto",
        cache_dir: str | Path | None = None,
    ) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if resize_mode not in RESIZE_MODES:
            raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, got {resize_mode!r}")
        if num_threads is not None and num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads!r}")
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
        self.engine = engine
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.model_name = model_name
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.spec: ModelSpec = get_spec(model_name, model_dir=self.model_dir)  # NotFound for unknown names
        self.batch_size = batch_size
        self.pretrained = pretrained
        self.resize_mode = resize_mode
        self.num_threads = num_threads
        self._requested_device = device
        self._requested_half = half
        self._backend: Backend | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalEmbedder:
        """The model the settings describe: the one place they become a model, for the pipeline in
        process and for the model server alike, so both give the same vectors."""
        return cls(
            settings.model,
            device=settings.device,
            batch_size=settings.batch_size,
            model_dir=settings.checkpoints_dir,
            pretrained=settings.pretrained,
            half=settings.half,
            num_threads=settings.model_threads,
            resize_mode=settings.resize_mode,
            engine=settings.inference_engine,
            cache_dir=settings.cache_dir,
        )

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._backend is not None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def device(self) -> torch.device:
        return self._backend.device if self._backend is not None else self._resolve_device()

    def _resolve_device(self) -> torch.device:
        wanted = self._requested_device
        if not wanted:
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        device = torch.device(wanted)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise Unsupported(f"device {wanted!r} requested but CUDA is not available")
        return device

    def load(self) -> LocalEmbedder:
        """Load the weights (idempotent): cuda when available else cpu; fp16 on GPU, fp32 on CPU."""
        if self._backend is not None:
            return self
        with self._lock:
            if self._backend is not None:
                return self
            device = self._resolve_device()
            half = self._requested_half if self._requested_half is not None else device.type == "cuda"
            threads = self.num_threads or usable_cores()
            torch.set_num_threads(threads)
            backend = create_backend(self.spec, model_dir=self.model_dir, pretrained=self.pretrained)
            backend.load(device, half)
            self._use_onnxruntime(backend, device, half, threads)
            self._backend = backend
            log.info(
                "loaded %s on %s (%s, %s, %d threads)", self.spec.name, device, backend.dtype, backend.engine, threads
            )
        return self

    def _use_onnxruntime(self, backend: Backend, device: torch.device, half: bool, threads: int) -> None:
        """Switch the back end to ONNX Runtime where the engine setting and the model allow it."""
        if self.engine == "torch":
            return
        possible = backend.supports_onnxruntime and device.type == "cpu" and not half
        if not possible:
            if self.engine == "onnxruntime":
                raise Unsupported(f"model {self.spec.name} on {device} ({'fp16' if half else 'fp32'}) has no ONNX Runtime path")
            return
        try:
            backend.use_onnxruntime(self.cache_dir, threads)
        except (ImportError, OSError) as exc:  # not installed; a cache directory that cannot be written
            if self.engine == "onnxruntime":
                raise Unsupported(f"ONNX Runtime cannot run {self.spec.name}: {exc}") from exc
            log.warning("ONNX Runtime cannot run %s (%s); it runs on torch", self.spec.name, exc)

    def describe(self) -> dict[str, Any]:
        """What a model server reports as metadata."""
        return {
            "name": self.spec.name,
            "dim": self.spec.dim,
            "family": self.spec.family,
            "supports_text": self.spec.supports_text,
            "supports_classify": self.spec.supports_classify,
            "ready": self.ready,
            "device": str(self.device) if self.ready else None,
            "dtype": str(self._backend.dtype).removeprefix("torch.") if self.ready else None,
            "engine": self._backend.engine if self.ready else None,
            "batch_size": self.batch_size,
            "resize_mode": self.resize_mode,
        }

    def preprocess(self, images: Iterable[np.ndarray]) -> torch.Tensor:
        """BGR uint8 ``(H, W, 3)`` images → normalised float32 ``(N, 3, S, S)`` tensor on the CPU."""
        checked = check_images(images)
        backend = self.load()._backend
        return to_tensor(checked, backend.image_size, backend.mean, backend.std, self.resize_mode)

    def _to_device(self, pixels: torch.Tensor) -> torch.Tensor:
        backend = self._backend
        size = backend.image_size
        if not isinstance(pixels, torch.Tensor) or pixels.ndim != 4 or tuple(pixels.shape[1:]) != (3, size, size):
            shape = tuple(pixels.shape) if isinstance(pixels, torch.Tensor) else type(pixels).__name__
            raise BadInput("bad_tensor", f"expected a (N, 3, {size}, {size}) tensor from preprocess, got {shape}")
        return pixels.to(device=backend.device, dtype=backend.dtype, non_blocking=True)

    def predict(self, pixels: torch.Tensor) -> torch.Tensor:
        """Preprocessed pixels → raw (un-normalised) embeddings, on the model's device and dtype."""
        self.load()
        x = self._to_device(pixels)
        with torch.inference_mode():
            return self._backend.encode_images(x)

    def postprocess(self, embeddings: torch.Tensor) -> np.ndarray:
        """Raw embeddings → L2-normalised float32 numpy ``(N, dim)`` (always float32, also after fp16)."""
        if embeddings.ndim != 2 or embeddings.shape[1] != self.spec.dim:
            raise RuntimeError(f"{self.spec.name} produced shape {tuple(embeddings.shape)}, expected (N, {self.spec.dim})")
        with torch.inference_mode():
            x = embeddings.float()
            x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
            return x.cpu().numpy().astype(np.float32, copy=False)

    # --- the calls the pipeline makes --------------------------------------------------------

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.spec.dim), dtype=np.float32)

    def embed_images(self, images: Iterable[np.ndarray]) -> np.ndarray:
        """BGR uint8 images → ``(N, dim)`` float32 unit vectors, in batches of ``batch_size``."""
        checked = check_images(images)
        if not checked:
            return self._empty()
        self.load()
        parts = [self.postprocess(self.predict(self.preprocess(chunk))) for chunk in batches(checked, self.batch_size)]
        return np.concatenate(parts, axis=0)

    def embed_texts(self, texts: Iterable[str]) -> np.ndarray:
        """Texts → ``(N, dim)`` float32 unit vectors in the image space; :class:`Unsupported` for image-only models."""
        if not self.spec.supports_text:
            raise Unsupported(f"model {self.spec.name} has no text tower")
        texts = check_texts(texts)
        if not texts:
            return self._empty()
        backend = self.load()._backend
        parts = []
        for chunk in batches(texts, self.batch_size):
            with torch.inference_mode():
                raw = backend.encode_texts(list(chunk))
            parts.append(self.postprocess(raw))
        return np.concatenate(parts, axis=0)

    @property
    def supports_classify(self) -> bool:
        """Whether the model has a classifier (:meth:`classify`, :meth:`embed_and_classify`)."""
        return self.spec.supports_classify

    def _check_classifier(self) -> None:
        if not self.spec.supports_classify:
            raise Unsupported(f"model {self.spec.name} has no classifier")

    def embed_and_classify_pixels(self, pixels: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Preprocessed pixels → unit embeddings ``(N, dim)`` and class probabilities ``(N, C)``, one trunk pass.

        What :meth:`embed_and_classify` runs on each batch; public so that the model server,
        which preprocesses in its own threads, gives exactly the in-process numbers.
        """
        self._check_classifier()
        self.load()
        x = self._to_device(pixels)
        with torch.inference_mode():
            raw, logits = self._backend.encode_and_classify(x)
            return self.postprocess(raw), _probabilities(logits)

    def _classify_batches(self, images: Iterable[np.ndarray], with_embeddings: bool):
        self._check_classifier()
        checked = check_images(images)
        backend = self.load()._backend
        n_classes = len(backend.class_names)
        if not checked:
            return self._empty(), np.zeros((0, n_classes), dtype=np.float32)
        embs, probs = [], []
        for chunk in batches(checked, self.batch_size):
            pixels = self.preprocess(chunk)
            if with_embeddings:
                emb, prob = self.embed_and_classify_pixels(pixels)
                embs.append(emb)
            else:
                with torch.inference_mode():
                    prob = _probabilities(backend.classify_logits(self._to_device(pixels)))
            probs.append(prob)
        emb = np.concatenate(embs, axis=0) if embs else None
        return emb, np.concatenate(probs, axis=0)

    def classify(self, images: Iterable[np.ndarray]) -> np.ndarray:
        """Class probabilities ``(N, C)`` float32 (ImageNet-1k for mobilenet_v2; rows sum to 1)."""
        return self._classify_batches(images, with_embeddings=False)[1]

    def embed_and_classify(self, images: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings and class probabilities from one forward pass per batch."""
        return self._classify_batches(images, with_embeddings=True)

    @property
    def class_names(self) -> list[str]:
        """Names of the classes :meth:`classify` scores (in column order)."""
        self._check_classifier()
        return self.load()._backend.class_names

    def __repr__(self) -> str:
        return f"LocalEmbedder({self.spec.name!r}, ready={self.ready}, batch_size={self.batch_size})"
