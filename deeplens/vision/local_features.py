"""Local keypoint features (SIFT as RootSIFT, or ORB) and their compact bytes form.

SIFT descriptors are stored as **quantised RootSIFT**: L1-normalise, square-root
(Arandjelovic & Zisserman 2012: Euclidean distance on RootSIFT equals the Hellinger
kernel on SIFT and matches better), then ``round(512 * x)`` into ``0..255``. They are
kept as ``float32`` for matching but hold integer values, so :func:`to_bytes` can store
them as ``uint8`` and the bytes round trip is exact: features loaded from a cache match
exactly like freshly extracted ones. ORB descriptors are ``uint8`` binary strings.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from deeplens.errors import BadInput
from deeplens.vision.images import check_bgr_image

KINDS = ("sift", "orb")
_DESCRIPTOR_DIMS = {"sift": 128, "orb": 32}

# RootSIFT components stay below ~0.3 in practice (SIFT clips each bin at 0.2 of the
# norm); 512 maps 0.498 to 255, so nothing realistic saturates and the step is 0.002.
ROOTSIFT_SCALE = 512.0


@dataclass(frozen=True)
class LocalFeatures:
    """Keypoints of one image, in the image's original pixel coordinates."""

    points: np.ndarray
    """``(N, 2)`` float32 ``x, y``."""
    descriptors: np.ndarray
    """``(N, 128)`` float32 quantised RootSIFT (integer values 0..255) for ``sift``;
    ``(N, 32)`` uint8 for ``orb``."""
    width: int
    height: int
    kind: str

    def __len__(self) -> int:
        return int(self.points.shape[0])


def _empty(kind: str, width: int, height: int) -> LocalFeatures:
    dtype = np.float32 if kind == "sift" else np.uint8
    return LocalFeatures(
        points=np.zeros((0, 2), np.float32),
        descriptors=np.zeros((0, _DESCRIPTOR_DIMS[kind]), dtype),
        width=width,
        height=height,
        kind=kind,
    )


def root_sift(descriptors: np.ndarray) -> np.ndarray:
    """Turn raw SIFT descriptors into quantised RootSIFT (float32 holding 0..255)."""
    d = descriptors.astype(np.float32)
    l1 = d.sum(axis=1, keepdims=True)
    d = np.sqrt(d / np.maximum(l1, 1e-7))
    return np.clip(np.rint(d * ROOTSIFT_SCALE), 0, 255).astype(np.float32)


def extract_local_features(
    img: np.ndarray,
    *,
    kind: str = "sift",
    max_features: int = 1000,
    max_side: int = 960,
    device: str | None = None,
) -> LocalFeatures:
    """Detect keypoints and compute descriptors for a BGR (or grayscale) ``uint8`` image.

    Images whose longer side exceeds ``max_side`` are downscaled first (speed, and
    keypoints at a comparable scale whatever the source resolution); the returned
    points are mapped back to the original image's pixel coordinates. At most
    ``max_features`` keypoints are kept, the strongest by detector response. ``device``
    (SIFT only; see ``DEEPLENS_LOCAL_FEATURES_DEVICE``) computes them with
    :mod:`deeplens.vision.torch_sift` on that torch device instead of OpenCV on the CPU.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown feature kind {kind!r}; expected one of {KINDS}")
    if max_features <= 0 or max_side <= 0:
        raise ValueError("max_features and max_side must be positive")
    check_bgr_image(img, allow_gray=True)
    height, width = img.shape[:2]
    gray = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)

    scale = min(1.0, max_side / max(width, height))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)

    if device is not None and kind == "sift":
        # Imported here so that processes computing on the CPU never load torch for it.
        from deeplens.vision import torch_sift

        found = torch_sift.detect_and_compute(gray, max_features=max_features, device=device)
        points, descriptors, responses = found.points, found.descriptors, found.responses
    else:
        detector = cv2.SIFT_create(nfeatures=max_features) if kind == "sift" else cv2.ORB_create(nfeatures=max_features)
        keypoints, descriptors = detector.detectAndCompute(gray, None)
        if not keypoints or descriptors is None:
            return _empty(kind, width, height)
        points = np.array([kp.pt for kp in keypoints], dtype=np.float32).reshape(-1, 2)
        responses = np.array([kp.response for kp in keypoints], dtype=np.float32)
    if len(points) == 0:
        return _empty(kind, width, height)

    # SIFT may return a few more than asked (ties, duplicated orientations).
    if len(points) > max_features:
        order = np.argsort(-responses, kind="stable")[:max_features]
        points, descriptors = points[order], descriptors[order]

    if scale < 1.0:
        # Undo the resize under OpenCV's pixel-centre convention.
        sx = width / gray.shape[1]
        sy = height / gray.shape[0]
        points = (points + 0.5) * np.array([sx, sy], np.float32) - 0.5
    if kind == "sift":
        descriptors = root_sift(descriptors)
    else:
        descriptors = np.ascontiguousarray(descriptors, dtype=np.uint8)
    return LocalFeatures(points=points, descriptors=descriptors, width=width, height=height, kind=kind)


def extract_region_features(
    img: np.ndarray, region: tuple[int, int, int, int], *, kind: str = "sift", max_features: int = 1000, scale: float = 1.0
) -> LocalFeatures:
    """Features of the part of ``img`` inside ``region`` (``x, y, w, h``, clipped to the image),
    in the whole image's pixel coordinates and size, so they verify like whole-frame features.

    Used where a product is expected near a known place: a crop costs SIFT time in
    proportion to its area. ``scale`` (at most 1) describes the crop at that fraction of its
    size: the scale the whole frame's features were extracted at, so both see the same detail.
    """
    height, width = img.shape[:2]
    x, y, w, h = region
    x0, y0 = max(0, int(x)), max(0, int(y))
    x1, y1 = min(width, int(x + w)), min(height, int(y + h))
    if x1 <= x0 or y1 <= y0:
        return _empty(kind, width, height)
    crop = extract_local_features(
        np.ascontiguousarray(img[y0:y1, x0:x1]), kind=kind, max_features=max_features,
        max_side=max(16, round(max(x1 - x0, y1 - y0) * min(1.0, scale))),
    )
    return LocalFeatures(
        points=crop.points + np.array([x0, y0], np.float32),
        descriptors=crop.descriptors,
        width=width,
        height=height,
        kind=kind,
    )


# Bytes layout (little endian): magic "DLLF", version u8, kind u8, width u32, height u32,
# count u32, dims u16, then zlib(points float32 [N*2] + descriptors uint8 [N*D]).
_MAGIC = b"DLLF"
_VERSION = 1
_HEADER = struct.Struct("<4sBBIIIH")
_KIND_CODES = {"sift": 0, "orb": 1}
_CODE_KINDS = {v: k for k, v in _KIND_CODES.items()}


def to_bytes(lf: LocalFeatures) -> bytes:
    """Serialise features compactly (~100 KB for 1000 SIFT keypoints); see :func:`from_bytes`."""
    n = len(lf)
    dims = _DESCRIPTOR_DIMS[lf.kind]
    if lf.descriptors.shape != (n, dims) or lf.points.shape != (n, 2):
        raise ValueError("points and descriptors do not agree in shape")
    desc = lf.descriptors
    if lf.kind == "sift":
        desc = np.clip(np.rint(desc), 0, 255)
    header = _HEADER.pack(_MAGIC, _VERSION, _KIND_CODES[lf.kind], lf.width, lf.height, n, dims)
    body = lf.points.astype("<f4").tobytes() + desc.astype(np.uint8).tobytes()
    # Level 1: nearly the same size as level 6 on descriptors, at a third of the time.
    return header + zlib.compress(body, 1)


def from_bytes(data: bytes) -> LocalFeatures:
    """Inverse of :func:`to_bytes`.

    Raises:
        BadInput: ``corrupt_features`` when the bytes are not a valid serialisation.
    """
    if len(data) < _HEADER.size:
        raise BadInput("corrupt_features", "feature bytes are shorter than the header")
    magic, version, code, width, height, n, dims = _HEADER.unpack_from(data)
    if magic != _MAGIC or version != _VERSION or code not in _CODE_KINDS:
        raise BadInput("corrupt_features", "feature bytes have an unknown magic, version or kind")
    kind = _CODE_KINDS[code]
    if dims != _DESCRIPTOR_DIMS[kind]:
        raise BadInput("corrupt_features", f"{kind} features must have {_DESCRIPTOR_DIMS[kind]} dims")
    try:
        body = zlib.decompress(data[_HEADER.size :])
    except zlib.error as exc:
        raise BadInput("corrupt_features", f"feature payload does not decompress: {exc}") from exc
    if len(body) != n * 8 + n * dims:
        raise BadInput("corrupt_features", "feature payload length does not match its header")
    points = np.frombuffer(body, dtype="<f4", count=n * 2).astype(np.float32).reshape(n, 2)
    desc = np.frombuffer(body, dtype=np.uint8, offset=n * 8).reshape(n, dims)
    descriptors = desc.astype(np.float32) if kind == "sift" else desc.copy()
    return LocalFeatures(points=points, descriptors=descriptors, width=width, height=height, kind=kind)
