"""Write frames to an MP4 file and prove that OpenCV reads the file back.

Encoders fail quietly (a missing codec gives an unopened writer or an empty file), so
every video is decoded again right after writing: the dataset never claims frames its
files do not hold.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from deeplens.errors import DeepLensError


class VideoWriteError(DeepLensError):
    """A video could not be written, or did not read back as written."""


def write_video(path: Path, frames: Iterable[np.ndarray], fps: int, width: int, height: int) -> int:
    """Encode ``frames`` (BGR, ``height x width``) as MPEG-4 Part 2 ("mp4v"); returns frames written."""
    tmp = path.with_name(path.stem + ".partial" + path.suffix)
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
    if not writer.isOpened():
        raise VideoWriteError(f"cannot open an mp4v video writer for {path} (OpenCV built without FFmpeg?)")
    count = 0
    try:
        for frame in frames:
            if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
                expected = f"({height}, {width}, 3) uint8"
                raise VideoWriteError(f"frame {count} is {frame.shape} {frame.dtype}, expected {expected}")
            writer.write(frame)
            count += 1
    finally:
        writer.release()
    # Only a finished file gets the real name.
    os.replace(tmp, path)
    return count


def verify_video(path: Path, frame_count: int, width: int, height: int) -> None:
    """Decode ``path`` fully; raise :class:`VideoWriteError` unless it holds ``frame_count`` frames of that size."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise VideoWriteError(f"{path} does not open with cv2.VideoCapture")
        size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        if size != (width, height):
            raise VideoWriteError(f"{path} is {size[0]}x{size[1]}, expected {width}x{height}")
        decoded = 0
        while cap.grab():  # grab() decodes without the colour conversion read() adds
            decoded += 1
    finally:
        cap.release()
    if decoded != frame_count:
        raise VideoWriteError(f"{path} decodes to {decoded} frames, expected {frame_count}")
