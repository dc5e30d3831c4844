"""Fixtures the bad-input tests share: a folder to upload, and the failures it leaves."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from synthkit import make_packaging

from deeplens.results import Results


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder in the upload layout holding one good product photo (products/GOOD/front.jpg) and an empty videos/."""
    root = tmp_path / "upload"
    (root / "products" / "GOOD").mkdir(parents=True)
    (root / "videos").mkdir()
    cv2.imwrite(str(root / "products" / "GOOD" / "front.jpg"), make_packaging(1, text="GOOD OATS"))
    return root


@pytest.fixture
def failures_by_key():
    """``failures_by_key(runtime)``: the tenant's recorded failures, reason by key."""

    def failures(runtime) -> dict[str, str]:
        page = Results(runtime.services.db, runtime.settings.tenant).failures(limit=100)
        return {f.key: f.reason for f in page.items}

    return failures
