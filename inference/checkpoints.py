"""open_clip checkpoint directories: the format, and finding one.

Format (the same layout open_clip itself reads with ``local-dir:`` and that open_clip
repositories on the Hugging Face hub use, so a downloaded snapshot works as is)::

    <dir>/open_clip_config.json      {"arch": "ViT-B-32",            # optional; checked when present
                                      "model_cfg": {"embed_dim": ..., "vision_cfg": {...}, "text_cfg": {...}},
                                      "preprocess_cfg": {"mean": [...], "std": [...], ...}}   # optional
    <dir>/open_clip_model.safetensors    a plain state_dict (or open_clip_pytorch_model.bin / .pth,
                                         any *.safetensors / *.bin / *.pth; safetensors preferred)

The model directory (``DEEPLENS_MODEL_DIR``, or ``/mnt/models`` where KServe mounts the
``storageUri``) is either such a directory itself or holds one per architecture, named
after it: ``<model_dir>/<arch>/open_clip_config.json``.

"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deeplens.errors import BadInput, NotFound

CONFIG_FILE = "open_clip_config.json"
PREFERRED_WEIGHTS = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
    "open_clip_pytorch_model.pth",
    "model.safetensors",
    "pytorch_model.bin",
    "pytorch_model.pth",
    "model.pth",
)


def read_checkpoint_config(ckpt_dir: str | Path) -> dict[str, Any]:
    """The parsed ``open_clip_config.json`` of a checkpoint directory, checked for the keys we need."""
    path = Path(ckpt_dir) / CONFIG_FILE
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NotFound(f"no {CONFIG_FILE} in {ckpt_dir}") from exc
    except (OSError, ValueError) as exc:
        raise BadInput("bad_checkpoint", f"cannot read {path}: {exc}") from exc
    model_cfg = config.get("model_cfg") if isinstance(config, dict) else None
    if not isinstance(model_cfg, dict) or not all(k in model_cfg for k in ("embed_dim", "vision_cfg", "text_cfg")):
        raise BadInput("bad_checkpoint", f"{path} needs a 'model_cfg' with embed_dim, vision_cfg and text_cfg")
    return config


def find_checkpoint_dir(arch: str, model_dir: str | Path) -> Path | None:
    """The checkpoint directory for ``arch`` in ``model_dir`` (itself or ``<model_dir>/<arch>``), or None.

    Raises :class:`NotFound` when the only checkpoint there is recorded for another arch.
    """
    root = Path(model_dir)
    candidates = [root]
    if arch and "/" not in arch and "\\" not in arch and not arch.startswith("."):
        candidates.append(root / arch)
    mismatched = []
    for cand in candidates:
        if not (cand / CONFIG_FILE).is_file():
            continue
        recorded = read_checkpoint_config(cand).get("arch")
        if recorded in (None, arch):
            return cand
        mismatched.append(f"{cand} holds {recorded!r}")
    if mismatched:
        raise NotFound(f"no checkpoint for open_clip arch {arch!r}: {'; '.join(mismatched)}")
    return None


def weights_file(ckpt_dir: str | Path) -> Path:
    """The state_dict file of a checkpoint directory; raises :class:`NotFound` when there is none."""
    ckpt_dir = Path(ckpt_dir)
    for name in PREFERRED_WEIGHTS:
        if (ckpt_dir / name).is_file():
            return ckpt_dir / name
    found = sorted(p for ext in ("*.safetensors", "*.bin", "*.pth") for p in ckpt_dir.glob(ext))
    if not found:
        raise NotFound(f"checkpoint directory {ckpt_dir} has no weights (*.safetensors, *.bin or *.pth)")
    return found[0]
