"""DeepLens: find catalog products in videos, search images by image or by text."""

__version__ = "0.1.0"
