"""Predictor settings, read from ``DEEPLENS_*`` environment variables.

The names match :mod:`deeplens.config` where they overlap (``DEEPLENS_MODEL``), so one
environment configures both the pipeline and an in-process or KServe-hosted predictor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from deeplens.config import InferenceEngine

ResizeMode = Literal["squash", "shortest", "longest"]


class InferenceSettings(BaseSettings):
    """Settings of the embedding predictor (env prefix ``DEEPLENS_``)."""

    model_config = SettingsConfigDict(env_prefix="DEEPLENS_", extra="ignore", protected_namespaces=())

    model: str = Field("mobilenet_v2", description="Model name from the registry (`inference.registry`).")
    model_dir: Path | None = Field(
        None,
        description="Checkpoint directory of open_clip models; unset = /mnt/models when it exists (KServe).",
    )
    pretrained: str | None = Field(
        None, description="open_clip pretrained tag or file, used only when no checkpoint directory holds the model."
    )
    device: str | None = Field(None, description="torch device ('cpu', 'cuda', 'cuda:1'); unset = cuda if available.")
    half: bool | None = Field(None, description="fp16 weights/activations; unset = on for CUDA, off for CPU.")
    batch_size: int = Field(16, ge=1, description="Images or texts per forward pass.")
    torch_threads: int | None = Field(
        None, ge=1, description="torch (or ONNX Runtime) intra-op threads; unset = all usable cores."
    )
    inference_engine: InferenceEngine = Field(
        "auto", description="'auto' = ONNX Runtime for models with an export on CPU in fp32, else torch; or 'torch', 'onnxruntime'."
    )
    model_cache_dir: Path | None = Field(
        None, description="Where exported ONNX models are kept; unset = $XDG_CACHE_HOME/deeplens or ~/.cache/deeplens."
    )
    resize_mode: ResizeMode = Field(
        "squash",
        description="How images become the model's square input: 'squash' (resize, no crop), "
        "'shortest' (resize shorter side, centre crop) or 'longest' (resize longer side, pad).",
    )
