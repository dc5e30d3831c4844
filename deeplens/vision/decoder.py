"""One PyAV decoder over a video's first stream: frames with their display index, from the start or after a seek.

Frames are indexed by their timestamp from the first frame's, in frames of the video's
rate, so an index means the same frame whether it was reached from the start or after a
seek. With ``references_only`` the frames no other frame references (most B-frames of an
H.264 file) are skipped, never decoded: a third to a half of a camera file's decoding,
and no other frame changes. Uploads are opened with the same FFmpeg allow-lists as
OpenCV's captures (:data:`~deeplens.vision.containers.FFMPEG_OPTIONS`).
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import Self

import av

from deeplens.vision.containers import FFMPEG_OPTIONS


class StreamDecoder:
    """Decodes ``location`` (a ``file:`` or http(s) URL already admitted by :func:`~deeplens.vision.video.ffmpeg_location`)."""

    def __init__(self, location: str, fps: float, *, threads: int = 0, references_only: bool = False) -> None:
        self.fps = fps
        self._container = av.open(location, options=dict(FFMPEG_OPTIONS))
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._stream.codec_context.thread_count = threads
        if references_only:
            self._stream.codec_context.skip_frame = "NONREF"
        self._origin: int | None = None
        self._last = -1

    def frames(self) -> Iterator[tuple[int, av.VideoFrame]]:
        """Decoded frames from the current position, with their 0-based display index, until the stream ends.

        Decoding stops quietly at the first frame that cannot be read (a truncated file),
        as a sequential decoder does.
        """
        try:
            for frame in self._container.decode(self._stream):
                yield self._index(frame), frame
        except av.error.FFmpegError:
            return

    def _index(self, frame: av.VideoFrame) -> int:
        if frame.pts is None or frame.time_base is None:
            self._last += 1  # no timestamps: the decoder's order is all there is
            return self._last
        if self._origin is None:
            self._origin = frame.pts
        self._last = round(float((frame.pts - self._origin) * frame.time_base) * self.fps)
        return self._last

    def keyframe_indexes(self) -> list[int]:
        """Display indexes of the stream's I-frames, read from the packets (nothing is decoded).

        Leaves the decoder past the end: seek before decoding again.
        """
        time_base = self._stream.time_base
        found: list[int] = []
        origin = None
        for packet in self._container.demux(self._stream):
            if packet.pts is None or time_base is None:
                continue
            origin = packet.pts if origin is None else min(origin, packet.pts)
            if packet.is_keyframe:
                found.append(packet.pts)
        if origin is None:
            return [0]
        self._origin = self._origin if self._origin is not None else origin
        return sorted({round(float((pts - self._origin) * time_base) * self.fps) for pts in found} | {0})

    def seek(self, index: int) -> None:
        """Resume decoding at the I-frame at or before frame ``index`` (needs a frame decoded first, for the origin)."""
        if self._origin is None:
            raise RuntimeError("decode a frame before seeking: the first one's timestamp is the origin")
        time_base = self._stream.time_base or Fraction(1, 1)
        target = self._origin + int(Fraction(index) / Fraction(self.fps).limit_denominator(100000) / time_base)
        self._container.seek(target, stream=self._stream, backward=True, any_frame=False)

    def close(self) -> None:
        """Release the file or connection."""
        self._container.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
