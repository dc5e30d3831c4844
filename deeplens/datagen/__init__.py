"""Synthetic datasets with exact ground truth: packaging-like catalogs and videos that show them.

Used by ``deeplens demo``, the tests (``tiny``, ``demo``) and the accuracy benchmark
(``bench``). ``python -m deeplens.datagen OUT --preset bench`` writes one from a shell.
"""

from .dataset import generate_catalog, generate_dataset
from .presets import PRESETS, Preset
from .truth import Appearance, DistractorAppearance, GroundTruth, ProductTruth, VideoTruth

__all__ = [
    "PRESETS",
    "Appearance",
    "DistractorAppearance",
    "GroundTruth",
    "Preset",
    "ProductTruth",
    "VideoTruth",
    "generate_catalog",
    "generate_dataset",
]
