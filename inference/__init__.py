"""DeepLens embedding predictor: model registry, back ends, and the KServe-style lifecycle.

Importing the package is cheap; torch loads with :class:`LocalEmbedder` (lazily). The model's
settings are :class:`deeplens.config.Settings`' (``DEEPLENS_MODEL``, ``DEEPLENS_DEVICE``, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .registry import DEFAULT_MODEL, ModelSpec, get_spec, list_specs

if TYPE_CHECKING:
    from .client import RemotePredictor
    from .local_embedder import LocalEmbedder

__all__ = [
    "DEFAULT_MODEL",
    "LocalEmbedder",
    "ModelSpec",
    "RemotePredictor",
    "get_spec",
    "list_specs",
]


def __getattr__(name: str) -> Any:
    if name == "LocalEmbedder":
        from .local_embedder import LocalEmbedder

        return LocalEmbedder
    if name == "RemotePredictor":
        from .client import RemotePredictor

        return RemotePredictor
    raise AttributeError(f"module 'inference' has no attribute {name!r}")
