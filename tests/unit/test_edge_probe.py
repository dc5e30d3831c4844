"""Edge probes: a frame between keyframes is checked where the guiding keyframe saw the product."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from deeplens.caches.lru import Lru
from deeplens.matching.appearances import FrameHit
from deeplens.pipeline import rollup
from deeplens.pipeline.rollup import EdgeProbe, probe_region
from deeplens.pipeline.verification import Candidate


@pytest.fixture
def probe(monkeypatch) -> tuple[EdgeProbe, list[tuple[int, int, int, int]]]:
    """A probe over a blank video whose every verification fails, recording where it looked."""
    looked: list[tuple[int, int, int, int]] = []
    services = SimpleNamespace(edge_probes=Lru(100), settings=SimpleNamespace(frame_feature_max_side=960))
    edge = EdgeProbe(services, None, "tenant", {"sha256": "video-sha", "video_id": "v1"})
    photo = (Candidate(7, "SKU-1", 0.0, "products/SKU-1/front.jpg", "photo-sha"), None)
    monkeypatch.setattr(edge, "photo", lambda image_id: photo)
    monkeypatch.setattr(edge, "_frame", lambda index: np.zeros((540, 960, 3), np.uint8))
    monkeypatch.setattr(rollup, "extract_region_features", lambda frame, region, scale: looked.append(region))
    monkeypatch.setattr(rollup, "verify", lambda *args: None)
    return edge, looked


def hit(box: tuple[int, int, int, int]) -> FrameHit:
    return FrameHit(frame_id=1, index=30, t=2.0, score=0.8, box=box, product_image_id=7)


def test_a_frame_probed_again_from_the_same_place_is_answered_from_memory(probe):
    edge, looked = probe
    assert edge(20, hit((100, 100, 80, 120))) is False
    assert edge(20, hit((100, 100, 80, 120))) is False
    assert looked == [probe_region((100, 100, 80, 120))]


def test_a_frame_probed_from_another_place_is_looked_at_again(probe):
    # A later roll-up may be guided by another keyframe that saw the product elsewhere;
    # the answer for the first place says nothing about the second.
    edge, looked = probe
    edge(20, hit((100, 100, 80, 120)))
    edge(20, hit((600, 300, 80, 120)))
    assert looked == [probe_region((100, 100, 80, 120)), probe_region((600, 300, 80, 120))]
