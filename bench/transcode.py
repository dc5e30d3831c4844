"""Copy a generated dataset with its videos encoded as H.264, the codec most real videos use.

    python bench/transcode.py DATASET OUT [--gop 250] [--crf 20]

The generator writes MPEG-4 Part 2 through OpenCV, with a keyframe (I-frame) every 12
frames. Cameras, phones and editors mostly write H.264, and libx264's defaults put 250
frames between I-frames, with B-frames: a 12 s clip at 15 fps is one GOP, so reaching a
frame by seeking means decoding the clip from its start. The pipeline seeks to probe
appearance edges between keyframes, so this is the case that measures what real videos
cost. The frames are the same (up to the encoder's loss), so the truth still holds; the
photos and ``truth.json`` are copied as they are. Then run, for instance,
``bench/accuracy.py OUT``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from fractions import Fraction
from pathlib import Path

import av


def transcode_video(source: Path, target: Path, *, gop: int, crf: int) -> int:
    """Encode every frame of ``source`` into ``target`` as H.264 (libx264) at the same size
    and frame rate; returns the number of frames."""
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        video = inp.streams.video[0]
        rate = Fraction(video.average_rate)
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = video.width, video.height, "yuv420p"
        stream.gop_size = gop
        stream.options = {"crf": str(crf)}
        count = 0
        for frame in inp.decode(video):
            # A new frame, timed by its position: the source's timestamps are its container's.
            encoded = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
            encoded.pts, encoded.time_base = count, 1 / rate
            out.mux(stream.encode(encoded))
            count += 1
        out.mux(stream.encode())
    return count


def transcode_dataset(dataset: Path, out: Path, *, gop: int = 250, crf: int = 20) -> None:
    """Copy ``dataset`` to ``out`` (which must not exist) with every video encoded as H.264."""
    if not (dataset / "truth.json").is_file():
        raise SystemExit(f"{dataset} is not a generated dataset (no truth.json)")
    out.mkdir(parents=True)
    shutil.copy(dataset / "truth.json", out / "truth.json")
    shutil.copytree(dataset / "products", out / "products")
    (out / "videos").mkdir()
    for source in sorted((dataset / "videos").iterdir()):
        frames = transcode_video(source, out / "videos" / source.name, gop=gop, crf=crf)
        print(f"{source.name}: {frames} frames", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--gop", type=int, default=250, help="frames from one I-frame to the next (libx264's default)")
    parser.add_argument("--crf", type=int, default=20, help="libx264 quality: lower is better (18-23 is typical)")
    args = parser.parse_args(argv)
    transcode_dataset(args.dataset, args.out, gop=args.gop, crf=args.crf)


if __name__ == "__main__":
    main()
