"""Synthetic datasets with exact ground truth: packaging-like catalogs and videos that show them.

Used by ``deeplens demo``, the tests (``tiny``, ``demo``) and the accuracy benchmark (``bench``).
"""

from .dataset import generate_dataset
from .presets import PRESETS, Preset
from .truth import GroundTruth

__all__ = ["PRESETS", "GroundTruth", "Preset", "generate_dataset"]
