"""Ground truth of a generated dataset, and its JSON form (``truth.json``).

Times follow one rule everywhere: frame ``i`` is shown at ``t = i / fps``; an
appearance's ``start`` is the time of its first visible frame and ``end`` the time of its
last visible frame. A product that leaves and comes back has one appearance per stay.
Boxes are ``[x, y, w, h]`` in frame pixels: the axis-aligned box around the product's
outline (its warped rectangle) in that frame, clipped to the frame.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Box = tuple[int, int, int, int]

# Number lists (boxes) on one line keep truth.json readable and a tenth of the size.
_NUMBER_LIST = re.compile(r"\[\s*(-?\d[\d.,\s-]*?)\s*\]")


@dataclass
class ProductTruth:
    """One catalog product: its photo file names and the product it was made to resemble."""

    photos: list[str]
    lookalike_of: str | None = None


@dataclass
class Appearance:
    """One uninterrupted stay of a catalog product on screen."""

    product: str
    start: float
    end: float
    boxes: dict[int, Box]  # frame index -> box, one entry per visible frame


@dataclass
class DistractorAppearance:
    """One stay of an item that is *not* in the catalog (a match on it is a false positive)."""

    item: str
    start: float
    end: float
    boxes: dict[int, Box] = field(default_factory=dict)


@dataclass
class VideoTruth:
    """What is in one video, frame by frame."""

    duration: float
    fps: int
    width: int
    height: int
    frame_count: int
    appearances: list[Appearance] = field(default_factory=list)
    distractor_appearances: list[DistractorAppearance] = field(default_factory=list)

    def frame_at(self, t: float) -> int | None:
        """Index of the frame on screen at time ``t`` (None outside the video)."""
        # The epsilon keeps t = i / fps on frame i despite float rounding.
        index = math.floor(t * self.fps + 1e-6)
        return index if 0 <= index < self.frame_count else None

    def visible(self, t: float) -> set[str]:
        """SKUs of the catalog products on screen at time ``t``."""
        index = self.frame_at(t)
        if index is None:
            return set()
        return {a.product for a in self.appearances if index in a.boxes}


@dataclass
class GroundTruth:
    """Everything a generated dataset contains, as the generator made it."""

    preset: str
    seed: int
    products: dict[str, ProductTruth]
    distractors: list[str]
    videos: dict[str, VideoTruth]

    def visible(self, video_id: str, t: float) -> set[str]:
        """SKUs of the catalog products visible in ``video_id`` at time ``t`` (seconds)."""
        return self.videos[video_id].visible(t)

    # -- JSON -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: the schema of ``truth.json`` (frame keys become strings)."""

        def boxes(b: dict[int, Box]) -> dict[str, list[int]]:
            return {str(k): list(v) for k, v in sorted(b.items())}

        return {
            "preset": self.preset,
            "seed": self.seed,
            "products": {
                sku: {"photos": list(p.photos), "lookalike_of": p.lookalike_of} for sku, p in self.products.items()
            },
            "distractors": list(self.distractors),
            "videos": {
                vid: {
                    "duration": v.duration,
                    "fps": v.fps,
                    "width": v.width,
                    "height": v.height,
                    "frame_count": v.frame_count,
                    "appearances": [
                        {"product": a.product, "start": a.start, "end": a.end, "boxes": boxes(a.boxes)}
                        for a in v.appearances
                    ],
                    "distractor_appearances": [
                        {"item": d.item, "start": d.start, "end": d.end, "boxes": boxes(d.boxes)}
                        for d in v.distractor_appearances
                    ],
                }
                for vid, v in self.videos.items()
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroundTruth:
        """Inverse of :meth:`to_dict`."""

        def boxes(b: dict[str, list[int]]) -> dict[int, Box]:
            return {int(k): (int(v[0]), int(v[1]), int(v[2]), int(v[3])) for k, v in b.items()}

        return cls(
            preset=data["preset"],
            seed=int(data["seed"]),
            products={
                sku: ProductTruth(photos=list(p["photos"]), lookalike_of=p.get("lookalike_of"))
                for sku, p in data["products"].items()
            },
            distractors=list(data.get("distractors", [])),
            videos={
                vid: VideoTruth(
                    duration=float(v["duration"]),
                    fps=int(v["fps"]),
                    width=int(v["width"]),
                    height=int(v["height"]),
                    frame_count=int(v["frame_count"]),
                    appearances=[
                        Appearance(a["product"], float(a["start"]), float(a["end"]), boxes(a["boxes"]))
                        for a in v.get("appearances", [])
                    ],
                    distractor_appearances=[
                        DistractorAppearance(d["item"], float(d["start"]), float(d["end"]), boxes(d.get("boxes", {})))
                        for d in v.get("distractor_appearances", [])
                    ],
                )
                for vid, v in data["videos"].items()
            },
        )

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The ``truth.json`` text; also written to ``path`` (atomically) when given."""
        text = json.dumps(self.to_dict(), indent=1)
        text = _NUMBER_LIST.sub(lambda m: "[" + " ".join(m.group(1).split()) + "]", text) + "\n"
        if path is not None:
            target = Path(path)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            # Rename last, so a truth.json that exists is always complete.
            os.replace(tmp, target)
        return text

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> GroundTruth:
        """Load a ``truth.json`` written by :meth:`to_json`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
