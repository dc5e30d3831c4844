"""DeepLens embedding predictor: model registry, back ends, and the KServe-style lifecycle.

Importing the package is cheap; torch loads with :class:`Predictor` (lazily).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .registry import DEFAULT_MODEL, ModelSpec, get_spec, list_specs

if TYPE_CHECKING:
    from .checkpoints import save_open_clip_checkpoint
    from .client import RemotePredictor
    from .predictor import Predictor
    from .settings import InferenceSettings

__all__ = [
    "DEFAULT_MODEL",
    "InferenceSettings",
    "ModelSpec",
    "Predictor",
    "RemotePredictor",
    "get_spec",
    "list_specs",
    "save_open_clip_checkpoint",
]


def __getattr__(name: str) -> Any:
    if name == "Predictor":
        from .predictor import Predictor

        return Predictor
    if name == "save_open_clip_checkpoint":
        from .checkpoints import save_open_clip_checkpoint

        return save_open_clip_checkpoint
    if name == "RemotePredictor":
        from .client import RemotePredictor

        return RemotePredictor
    if name == "InferenceSettings":
        from .settings import InferenceSettings

        return InferenceSettings
    raise AttributeError(f"module 'inference' has no attribute {name!r}")
