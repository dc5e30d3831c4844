"""open_clip models (image and text towers).

Weights come from a checkpoint directory (format in :mod:`inference.checkpoints`) or,
when no directory holds the architecture, from an open_clip ``pretrained`` tag or file
(a tag downloads from a model hub, so it only works where one is reachable).
"""

from __future__ import annotations

from pathlib import Path

import torch

from deeplens.errors import NotFound

from ..checkpoints import find_checkpoint_dir, weights_file
from .base import Backend


class OpenClipBackend(Backend):
    def __init__(self, spec, *, model_dir: Path | None = None, pretrained: str | None = None) -> None:
        super().__init__(spec)
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.pretrained = pretrained
        self.model = None
        self.tokenizer = None
        self.source: str | None = None

    def load(self, device: torch.device, half: bool) -> None:
        import open_clip

        arch = self.spec.arch
        ckpt = find_checkpoint_dir(arch, self.model_dir) if self.model_dir is not None else None
        precision = "fp16" if half else "fp32"
        common = {"precision": precision, "device": device, "pretrained_image": False, "pretrained_text": False}
        if ckpt is not None:
            weights_file(ckpt)  # open_clip would silently fall back to random weights without one
            source = f"local-dir:{ckpt}"
            model = open_clip.create_model(source, **common)
            tokenizer = open_clip.get_tokenizer(source)
        elif self.pretrained:
            source = f"{arch} pretrained={self.pretrained}"
            model = open_clip.create_model(arch, pretrained=self.pretrained, require_pretrained=True, **common)
            tokenizer = open_clip.get_tokenizer(arch)
        else:
            where = f"under {self.model_dir}" if self.model_dir is not None else "(no model directory set)"
            raise NotFound(
                f"no checkpoint for {self.spec.name} {where}: set DEEPLENS_MODEL_DIR to a directory with "
                "open_clip_config.json + open_clip_model.safetensors (see inference.checkpoints), "
                "or DEEPLENS_PRETRAINED to an open_clip pretrained tag where a model hub is reachable"
            )
        model.eval()
        pp = model.visual.preprocess_cfg
        size = pp.get("size", self.spec.image_size)
        self.image_size = int(size[0] if isinstance(size, (list, tuple)) else size)
        self.mean = tuple(float(v) for v in pp["mean"])
        self.std = tuple(float(v) for v in pp["std"])
        self.model, self.tokenizer, self.source = model, tokenizer, source
        self.device = device
        self.dtype = torch.float16 if half else torch.float32

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixels)

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(texts).to(self.device)
        return self.model.encode_text(tokens)
