"""Checks on what callers hand a predictor, shared by the in-process and the remote one.

Kept free of torch so the remote client (which must not import it) can use them too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

import numpy as np

from deeplens.errors import BadInput

T = TypeVar("T")


def check_images(images: Iterable[np.ndarray]) -> list[np.ndarray]:
    """The images as a list, each checked to be a BGR ``uint8`` ``(H, W, 3)`` array; else :class:`BadInput`."""
    if isinstance(images, np.ndarray) and images.ndim == 3:
        raise BadInput("bad_image", "expected a sequence of images, got a single (H, W, 3) array; wrap it in a list")
    if isinstance(images, (str, bytes)) or not isinstance(images, Iterable):
        raise BadInput("bad_image", f"expected a sequence of images, got {type(images).__name__}")
    checked = []
    for i, image in enumerate(images):
        if not isinstance(image, np.ndarray):
            raise BadInput("bad_image", f"image {i} is a {type(image).__name__}, not a numpy array")
        if image.dtype != np.uint8:
            raise BadInput("bad_image", f"image {i} has dtype {image.dtype}, expected uint8")
        if image.ndim != 3 or image.shape[2] != 3:
            raise BadInput("bad_image", f"image {i} has shape {image.shape}, expected (H, W, 3) BGR")
        if image.shape[0] < 1 or image.shape[1] < 1:
            raise BadInput("bad_image", f"image {i} is empty: shape {image.shape}")
        checked.append(image)
    return checked


def check_texts(texts: Iterable[str]) -> list[str]:
    """The texts as a list, each checked to be a string; else :class:`BadInput`."""
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Iterable):
        raise BadInput("bad_text", f"expected a sequence of strings, got {type(texts).__name__}")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise BadInput("bad_text", f"text {i} is a {type(text).__name__}, not a string")
    return texts


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
