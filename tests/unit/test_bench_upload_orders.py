"""The upload-order benchmark's orders: each uploads the whole dataset once, in its own sequence."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from accuracy import ORDERS


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "dataset"
    for sku in ("SKU-1", "SKU-2", "SKU-3"):
        (root / "products" / sku).mkdir(parents=True)
        (root / "products" / sku / "front.jpg").write_bytes(b"photo")
    (root / "videos").mkdir()
    for name in ("a.mp4", "b.mp4"):
        (root / "videos" / name).write_bytes(b"video")
    return root


def uploaded(folders: list[Path]) -> list[list[str]]:
    """Each upload's members, as ``part/name``."""
    return [sorted(f"{part.name}/{m.name}" for part in folder.iterdir() if part.is_dir() for m in part.iterdir()) for folder in folders]


@pytest.mark.parametrize("order", list(ORDERS))
def test_every_order_uploads_every_product_and_video_exactly_once(order, dataset, tmp_path):
    members = [m for upload in uploaded(ORDERS[order](dataset, tmp_path / "work")) for m in upload]
    assert sorted(members) == ["products/SKU-1", "products/SKU-2", "products/SKU-3", "videos/a.mp4", "videos/b.mp4"]


def test_videos_first_uploads_the_videos_before_the_catalog(dataset, tmp_path):
    assert uploaded(ORDERS["videos-first"](dataset, tmp_path / "work")) == [
        ["videos/a.mp4", "videos/b.mp4"], ["products/SKU-1", "products/SKU-2", "products/SKU-3"]
    ]


def test_catalog_halves_put_the_videos_between_two_halves_of_the_catalog(dataset, tmp_path):
    assert uploaded(ORDERS["catalog-halves"](dataset, tmp_path / "work")) == [
        ["products/SKU-1", "products/SKU-3"], ["videos/a.mp4", "videos/b.mp4"], ["products/SKU-2"]
    ]
