"""Swappable model back ends; :func:`create_backend` picks one by the spec's family."""

from __future__ import annotations

from pathlib import Path

from ..registry import ModelSpec
from .base import Backend


def create_backend(spec: ModelSpec, *, model_dir: Path | None = None, pretrained: str | None = None) -> Backend:
    if spec.family == "mobilenet":
        from .mobilenet import MobileNetBackend

        return MobileNetBackend(spec)
    if spec.family == "open_clip":
        from .openclip import OpenClipBackend

        return OpenClipBackend(spec, model_dir=model_dir, pretrained=pretrained)
    raise ValueError(f"no back end for model family {spec.family!r}")


__all__ = ["Backend", "create_backend"]
