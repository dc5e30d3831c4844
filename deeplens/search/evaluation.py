"""Search quality on real photos: scikit-image's sample photos and edited copies of them.

Used by ``bench/search_quality.py`` (the figures) and the integration tests (the pinned
behaviour). scikit-image is a test/bench dependency only, imported when a photo is asked for.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

#: Photos with an ImageNet concept in them, and the text query that should find each first.
TEXT_QUERIES: dict[str, str] = {
    "coffee": "cup of coffee",
    "chelsea": "cat",
    "rocket": "rocket",
    "motorcycle": "motorcycle",
}
#: The photos the copies are made of.
ORIGINALS = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle")
#: Other sample images, indexed as distractors.
DISTRACTORS = (
    "camera", "coins", "moon", "page", "text", "clock", "brick", "grass", "gravel", "hubble_deep_field",
    "immunohistochemistry", "retina", "logo", "colorwheel", "checkerboard", "cell",
)


def photo(name: str) -> np.ndarray:
    """A scikit-image sample image as BGR uint8 (``motorcycle``: the left view of the stereo pair)."""
    import skimage.data  # only tests and benchmarks need it

    image = skimage.data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skimage.data, name)()
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255).astype(np.uint8) if image.dtype.kind == "f" else image.astype(np.uint8) * 255
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image[:, :, ::-1])


def crop(image: np.ndarray) -> np.ndarray:
    """The central 70% (in each dimension)."""
    h, w = image.shape[:2]
    dy, dx = int(h * 0.15), int(w * 0.15)
    return np.ascontiguousarray(image[dy : h - dy, dx : w - dx])


def rotate(image: np.ndarray, degrees: float = 15.0) -> np.ndarray:
    """Rotated about the centre, borders filled by reflection."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT_101)


def colour_shift(image: np.ndarray) -> np.ndarray:
    """Hue turned by 20°, saturation ×0.8, brightness +25."""
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.int16)
    hsv[:, :, 0] = (hsv[:, :, 0] + 10) % 180  # OpenCV hue is 0-179: 10 steps = 20°
    hsv[:, :, 1] = (hsv[:, :, 1] * 0.8).astype(np.int16)
    hsv[:, :, 2] = np.clip(hsv[:, :, 2] + 25, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)


def flip(image: np.ndarray) -> np.ndarray:
    """Mirrored left to right."""
    return np.ascontiguousarray(image[:, ::-1])


EDITS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "crop": crop,
    "rotation": rotate,
    "colour": colour_shift,
    "flip": flip,
}


def encode(image: np.ndarray, ext: str = ".png") -> bytes:
    """The image as file bytes (PNG: lossless, so the index sees exactly the edit)."""
    ok, data = cv2.imencode(ext, image)
    if not ok:
        raise ValueError("cannot encode image")
    return data.tobytes()
