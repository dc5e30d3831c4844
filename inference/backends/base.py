"""The interface every back end implements (weights in, raw un-normalised embeddings out)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import torch

from deeplens.errors import Unsupported

from ..registry import ModelSpec


class Backend(ABC):
    """A model family: loads its weights and runs its towers on prepared tensors."""

    #: input normalisation (RGB, 0..1 scale) and square input size, valid after :meth:`load`
    mean: Sequence[float]
    std: Sequence[float]
    image_size: int

    #: whether :meth:`use_onnxruntime` can run the image tower from an ONNX export
    supports_onnxruntime = False

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self.engine = "torch"

    def use_onnxruntime(self, cache_dir: Path, threads: int) -> None:
        """After :meth:`load`: run the image tower with ONNX Runtime from an export kept in ``cache_dir``
        (CPU, fp32). Raises ImportError when onnxruntime is missing."""
        raise Unsupported(f"model {self.spec.name} has no ONNX Runtime path")

    @abstractmethod
    def load(self, device: torch.device, half: bool) -> None:
        """Load weights onto ``device`` (fp16 when ``half``), in eval mode."""

    @abstractmethod
    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """``(N, 3, S, S)`` normalised pixels on ``self.device``/``self.dtype`` → ``(N, dim)`` embeddings."""

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        """Texts → ``(N, dim)`` embeddings on ``self.device``."""
        raise Unsupported(f"model {self.spec.name} has no text tower")

    def classify_logits(self, pixels: torch.Tensor) -> torch.Tensor:
        """``(N, 3, S, S)`` pixels → ``(N, C)`` class logits."""
        raise Unsupported(f"model {self.spec.name} has no classifier")

    def encode_and_classify(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings and class logits; back ends with a shared trunk override this to run it once."""
        return self.encode_images(pixels), self.classify_logits(pixels)

    @property
    def class_names(self) -> list[str]:
        raise Unsupported(f"model {self.spec.name} has no classifier")
