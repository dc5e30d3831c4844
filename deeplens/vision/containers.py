"""Which video containers DeepLens opens, decided by magic bytes before FFmpeg sees a file.

FFmpeg opens whatever its probe recognises, playlists included: an HLS playlist, a concat
list or an image-sequence pattern makes it read *other* files (or URLs) named inside the
upload. So a video is opened only when its leading bytes name a container on the
allow-list below, whose demuxers read the one file they are given; and FFmpeg itself is
told the same list (:data:`FFMPEG_CAPTURE_OPTIONS`), so its probe cannot pick another
demuxer whatever the contents say.
"""

from __future__ import annotations

from deeplens.errors import BadInput
from deeplens.mediatypes import family_of, sniff

ALLOWED_CONTAINERS: dict[str, str] = {
    "mp4": "mov",  # ISO base media / QuickTime: mp4, mov, m4v, 3gp
    "matroska": "matroska",  # mkv, webm
    "avi": "avi",
    "mpegts": "mpegts",
    "mpeg": "mpeg",  # MPEG program stream
}
"""Sniffed container → the FFmpeg demuxer that reads it. None of these demuxers opens a
second resource on its own (mov's external data references are switched off below)."""

ALLOWED_NAMES = "mp4/mov, matroska/webm, avi, mpeg-ts, mpeg-ps"

_REFERENCING_TEXT = {
    b"#EXTM3U": "an HLS playlist",
    b"ffconcat": "an FFmpeg concat list",
    b"[playlist]": "a PLS playlist",
    b"<?xml": "an XML document (a DASH manifest, a playlist?)",
}


def sniff_video_container(head: bytes) -> str | None:
    """Name the container from the first bytes of a file, or ``None`` if unrecognised."""
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "mp4"  # ISO base media / QuickTime (mp4, mov, m4v, 3gp)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"  # mkv, webm
    if head[:3] == b"FLV":
        return "flv"
    if head[:4] == b"\x30\x26\xb2\x75":
        return "asf"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "mpeg"
    if len(head) > 376 and head[0] == 0x47 and head[188] == 0x47 and head[376] == 0x47:
        return "mpegts"
    if head[:4] == b"OggS":
        return "ogg"
    return None


def admit_container(head: bytes) -> str:
    """The FFmpeg demuxer for a video whose file starts with ``head`` (512 bytes are enough).

    Raises:
        BadInput: ``empty`` (no bytes); ``not_a_video`` (an image, even one in an ISO
            media box such as HEIC, or no allowed container's magic, e.g. a playlist or
            text); ``unsupported_container`` (a video container that is not on the
            allow-list, e.g. flv or ogg).
    """
    if not head:
        raise BadInput("empty", "the video file has zero bytes")
    mime = sniff(head)
    if family_of(mime) == "image":  # HEIF/AVIF share mp4's ftyp box, and FFmpeg's mov demuxer reads them
        raise BadInput("not_a_video", f"the file is an image ({mime}), not a video")
    container = sniff_video_container(head)
    if container is None:
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        what = next((name for magic, name in _REFERENCING_TEXT.items() if stripped.startswith(magic)), None)
        if what is not None:
            raise BadInput("not_a_video", f"the file is {what}; files that make the decoder read other files are refused")
        raise BadInput("not_a_video", f"the file does not start like any accepted video container ({ALLOWED_NAMES})")
    if container not in ALLOWED_CONTAINERS:
        raise BadInput("unsupported_container", f"{container} videos are not accepted (accepted: {ALLOWED_NAMES})")
    return ALLOWED_CONTAINERS[container]


FFMPEG_OPTIONS: dict[str, str] = {
    # Only these demuxers, at the top level and in anything nested: no hls, concat, image2,
    # dash, sdp, ... even if the file's contents would make FFmpeg's probe choose one.
    "format_whitelist": ",".join(sorted(set(ALLOWED_CONTAINERS.values()))),
    # Local files, and the presigned http(s) URLs the S3 store hands out (https goes
    # through tls and tcp). OpenCV reads these options from one process-wide variable, so
    # one list serves both kinds of open; which one a given open uses is checked before it
    # (video.py), and what an allowed demuxer could open besides is nothing. (OpenCV's
    # capture from a Python file object needs no protocol at all, but crashes on release
    # in OpenCV 5.1.)
    "protocol_whitelist": "file,http,https,tcp,tls",
    # mov/mp4 "dref" boxes can point at media in other files; never follow them.
    "enable_drefs": "0",
    "use_absolute_path": "0",
}
"""FFmpeg options for every open of an uploaded video, by OpenCV (below) and by PyAV (``av.open(..., options=)``)."""

FFMPEG_CAPTURE_OPTIONS = "|".join(f"{name};{value}" for name, value in FFMPEG_OPTIONS.items())
"""FFmpeg options for every OpenCV capture, as ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` spells them."""
