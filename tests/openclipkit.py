"""open_clip checkpoints with random (seeded) weights, for the tests of open_clip models.

A checkpoint directory in the format :mod:`inference.checkpoints` reads; :data:`TINY_CLIP`
makes one small enough to load in a fraction of a second.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from deeplens.errors import NotFound
from inference.checkpoints import CONFIG_FILE
from inference.registry import builtin_open_clip_config

#: ViT-B-32 cut down to 32-d embeddings, one layer per tower and 32 px images.
TINY_CLIP = {
    "base": "ViT-B-32",
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "patch_size": 16, "layers": 1, "width": 32, "head_width": 16},
    "text_cfg": {"context_length": 16, "width": 32, "heads": 2, "layers": 1},
}


def _deep_merge(base: dict, overrides: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def save_open_clip_checkpoint(
    arch: str,
    out_dir: str | Path,
    *,
    base: str | None = None,
    seed: int = 0,
    preprocess_cfg: dict[str, Any] | None = None,
    **overrides: Any,
) -> Path:
    """Write a checkpoint directory for ``arch`` with random (seeded) weights; returns the directory.

    The model config is open_clip's built-in config of ``base`` (default: ``arch``),
    deep-merged with ``overrides`` (e.g. ``embed_dim=32, vision_cfg={"layers": 1}``). With
    no built-in base, ``overrides`` must give the whole config (embed_dim, vision_cfg,
    text_cfg). Load it with ``LocalEmbedder("open_clip:<arch>", model_dir=out_dir)``.
    """
    import open_clip
    import torch
    from safetensors.torch import save_file

    base_cfg = builtin_open_clip_config(base or arch)
    if base_cfg is None and base is not None:
        raise NotFound(f"unknown open_clip base architecture {base!r}")
    model_cfg = _deep_merge(base_cfg or {}, overrides)
    if not all(k in model_cfg for k in ("embed_dim", "vision_cfg", "text_cfg")):
        raise NotFound(
            f"{arch!r} is not a built-in open_clip architecture: give base=<arch> or a whole config "
            "(embed_dim, vision_cfg, text_cfg) as keyword arguments"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {"arch": arch, "model_cfg": model_cfg}
    if preprocess_cfg:
        config["preprocess_cfg"] = preprocess_cfg
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        # No weights file yet: open_clip builds the architecture with random init.
        model = open_clip.create_model(f"local-dir:{out}", pretrained_image=False, pretrained_text=False)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    save_file(state, str(out / "open_clip_model.safetensors"))
    return out
