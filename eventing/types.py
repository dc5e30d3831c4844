"""Event types (``dev.deeplens.*``) and the schema of each one's data."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError

from deeplens.errors import BadInput

OBJECT_CREATED = "dev.deeplens.object.created"
PRODUCT_UPLOADED = "dev.deeplens.product.uploaded"
VIDEO_UPLOADED = "dev.deeplens.video.uploaded"
VIDEO_SEGMENT = "dev.deeplens.video.segment"
FRAMES_EXTRACTED = "dev.deeplens.frames.extracted"
IMAGE_INDEXED = "dev.deeplens.image.indexed"
MATCH_FOUND = "dev.deeplens.match.found"
MATCH_EVIDENCED = "dev.deeplens.match.evidenced"
REMATCH_REQUESTED = "dev.deeplens.rematch.requested"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectCreated(RootModel[dict[str, Any]]):
    """An S3 notification as the bucket sends it: one record, a ``Records`` document, or MinIO's webhook body."""


class ProductUploaded(_Data):
    key: str
    sku: str
    sha256: str
    size: int


class VideoUploaded(_Data):
    key: str
    video_id: str
    sha256: str
    size: int


class VideoSegment(_Data):
    """One part of an uploaded video, ``[start, end)`` in frames, that one keyframes call scans."""

    key: str
    video_id: str
    sha256: str
    size: int
    start: int = Field(ge=0)
    end: int = Field(gt=0)
    segment: int = Field(ge=0)
    segments: int = Field(gt=1)


class FrameRef(_Data):
    frame_id: int
    index: int
    t: float
    key: str


class FramesExtracted(_Data):
    video_id: str
    frames: list[FrameRef] = Field(min_length=1)


class ImageIndexed(_Data):
    item_kind: Literal["product_image", "frame"]
    item_ids: list[int] = Field(min_length=1)
    model: str
    video_id: str | None = None


class MatchFound(_Data):
    appearance_ids: list[str] = Field(min_length=1)


class MatchEvidenced(_Data):
    appearance_id: str
    evidence_key: str


class RematchRequested(_Data):
    """Decide every keyframe of the tenant again, and roll up every appearance again, with the
    match step's settings as they are now (after a change of ``DEEPLENS_MATCH_*`` or
    ``DEEPLENS_APPEARANCE_*``)."""

    decide: bool = True
    """False to roll up the appearances only: enough for ``DEEPLENS_APPEARANCE_*`` and for a
    raised threshold (which rolling up applies too), in a fraction of the time."""
    after: tuple[str, str] | None = None
    """Set on the follow-up events of a long rematch: the (video, product) pair the rolling up
    goes on after."""


SCHEMAS: dict[str, type[BaseModel]] = {
    OBJECT_CREATED: ObjectCreated,
    PRODUCT_UPLOADED: ProductUploaded,
    VIDEO_UPLOADED: VideoUploaded,
    VIDEO_SEGMENT: VideoSegment,
    FRAMES_EXTRACTED: FramesExtracted,
    IMAGE_INDEXED: ImageIndexed,
    MATCH_FOUND: MatchFound,
    MATCH_EVIDENCED: MatchEvidenced,
    REMATCH_REQUESTED: RematchRequested,
}

M = TypeVar("M", bound=BaseModel)


def parse_data(model: type[M], data: Any) -> M:
    """Validate an event's data against its schema; :class:`BadInput` names what is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'data'}: {e['msg']}" for e in exc.errors()[:5])
        raise BadInput("malformed_event", f"{model.__name__} data is invalid: {problems}") from exc
