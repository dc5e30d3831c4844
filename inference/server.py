"""The KServe model server: the registry's models over the Open Inference Protocol v2.

``python -m inference`` (see :mod:`inference.__main__`) serves one model, chosen by
``DEEPLENS_MODEL``, under its registry name::

    POST /v2/models/mobilenet_v2/infer
    {"inputs": [{"name": "image", "datatype": "BYTES", "shape": [2], "data": ["<base64 JPEG>", "<base64 PNG>"]}],
     "parameters": {"binary_data_output": true}}     # optional
    → {"model_name": "mobilenet_v2", "outputs": [{"name": "embedding", "datatype": "FP32", "shape": [2, 1280], "data": [...]}], ...}

- Inputs: ``image`` (BYTES, ``[N]``; each element an encoded image, base64 in JSON — raw
  bytes are also accepted where the transport carries bytes: the binary tensor extension,
  as a Triton client sends an ``np.object_`` array of ``bytes``, and gRPC) or ``text``
  (BYTES, ``[N]``; UTF-8 strings; models with a text tower only). One of them per request.
  A JSON request needs no ``Content-Type`` (a Triton client sends none):
  :mod:`inference.http_adapter`.
- Output: ``embedding`` (FP32, ``[N, dim]``, rows L2-normalised). Models with a classifier
  (mobilenet_v2's ImageNet head) also give ``probabilities`` (FP32, ``[N, classes]``, rows
  sum to 1) for images, from the same forward pass, to requests that name it in
  ``"outputs"``: ``[{"name": "embedding"}, {"name": "probabilities"}]``. A request that names
  outputs gets those, in that order; one that names none gets ``embedding`` alone. Add
  ``"parameters": {"binary_data_output": true}`` to get them as raw float32 (binary tensor
  extension) instead of JSON numbers (an output's own ``"binary_data"`` overrides it).
- Bad input (not base64, not an image, truncated image, unknown input or output name, text
  to an image-only model, ``probabilities`` from a model without a classifier) →
  ``400 {"error": "<reason>: <message>"}``; a body that is not a v2 request →
  ``400 {"error": "bad_request: ..."}`` (:mod:`inference.http_errors`), a binary-extension
  body whose framing does not add up → ``400 {"error": "bad_binary_data: ..."}``; no error
  quotes the input. Unknown model → 404 (kserve).
- Health: ``/v2/health/live``, ``/v2/health/ready``, ``/v2/models/<name>/ready`` (kserve);
  the model is ready once its weights are loaded and one warm-up forward pass has run.
- Batching: images are decoded and preprocessed in worker threads (one per image), then
  concurrent requests share forward passes through :class:`inference.batching.MicroBatcher`.
- Device and precision come from the :class:`~inference.local_embedder.LocalEmbedder` (CUDA + fp16
  where present, CPU + fp32 otherwise).

Importing this module imports ``kserve``, which parses ``sys.argv`` (``parse_known_args``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import cv2
import kserve
import kserve.model_server
import numpy as np
import torch
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferOutput, InferRequest, InferResponse, RequestedOutput
from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException

from deeplens.config import Settings
from deeplens.errors import BadInput, Unsupported
from deeplens.vision.images import decode_image

from .batching import MicroBatcher
from .binary_tensors import BASE64_PARAMETER
from .http_adapter import V2RequestAdapter
from .http_errors import http_error_answer, validation_error_answer
from .local_embedder import LocalEmbedder
from .protocol import EMBEDDING_OUTPUT, IMAGE_INPUT, PROBABILITIES_OUTPUT, TEXT_INPUT, UNSUPPORTED_REASON

log = logging.getLogger(__name__)


# Served at /metrics by kserve's server (the default prometheus_client registry).
BATCHES = Counter("deeplens_predictor_batches", "Batched forward passes run", ["model", "kind"])
BATCHED_REQUESTS = Counter(
    "deeplens_predictor_batched_requests", "Requests answered by batched forward passes", ["model", "kind"]
)
BATCHED_ROWS = Counter(
    "deeplens_predictor_batched_rows", "Images or texts embedded by batched forward passes", ["model", "kind"]
)
BATCH_ROWS = Histogram(
    "deeplens_predictor_batch_rows",
    "Images or texts per batched forward pass",
    ["model", "kind"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)


def _invalid(reason: str, message: str) -> InvalidInput:
    """kserve's 400 error, with the ``reason: message`` text :mod:`inference.client` parses."""
    return InvalidInput(f"{reason}: {message}")


def _flatten(values: Any) -> list[Any]:
    if isinstance(values, np.ndarray):
        return list(values.reshape(-1))
    if isinstance(values, (list, tuple)):
        out: list[Any] = []
        for v in values:
            out.extend(_flatten(v) if isinstance(v, (list, tuple, np.ndarray)) else [v])
        return out
    return [values]


def bytes_elements(inp: InferInput) -> list[str | bytes]:
    """The elements of a BYTES input, as kserve hands them over.

    REST/JSON: ``inp.data`` is the JSON list (strings; possibly nested by shape). Binary
    tensor extension: :class:`inference.http_adapter.V2RequestAdapter` has carried each
    element through kserve as base64, marked with ``BASE64_PARAMETER``, so it comes back as
    the bytes the client sent. gRPC: ``bytes`` elements (``contents.bytes_contents`` or
    ``raw_input_contents``).
    """
    if inp.datatype != "BYTES":
        raise _invalid("bad_datatype", f"input {inp.name!r} must have datatype BYTES, got {inp.datatype}")
    if inp._raw_data is not None:  # gRPC raw_input_contents
        values = _flatten(inp.as_numpy())
    else:
        values = _flatten(inp.data if inp.data is not None else [])
    expected = int(np.prod(inp.shape)) if inp.shape else len(values)
    if expected != len(values):
        raise _invalid("bad_shape", f"input {inp.name!r} has shape {list(inp.shape)} but {len(values)} elements")
    for i, v in enumerate(values):
        if not isinstance(v, (str, bytes)):
            raise _invalid("bad_element", f"input {inp.name!r} element {i} is a {type(v).__name__}, not a string")
    if (inp.parameters or {}).get(BASE64_PARAMETER) is True:
        return [_unbase64(inp.name, i, v) for i, v in enumerate(values)]
    return values


def _unbase64(name: str, i: int, value: str | bytes) -> bytes:
    """The bytes of an element that :mod:`inference.binary_tensors` carried as base64."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _invalid("bad_base64", f"input {name!r} element {i} is marked {BASE64_PARAMETER} but is not base64 ({exc})") from exc


def image_bytes(i: int, value: str | bytes) -> bytes:
    """Encoded image bytes from one element: base64 (optionally a ``data:`` URI), or raw bytes (binary extension, gRPC)."""
    if isinstance(value, bytes):
        stripped = value.strip()
        try:
            return base64.b64decode(b"".join(stripped.split()), validate=True)
        except (binascii.Error, ValueError):
            return value  # raw image bytes (a JPEG/PNG header is never valid base64)
    text = value.strip()
    if text.startswith("data:") and "," in text[:200]:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _invalid("bad_base64", f"input 'image' element {i} is not base64-encoded image bytes ({exc})") from exc


def decode_request_image(data: bytes) -> np.ndarray:
    """Encoded bytes → BGR uint8 image, by the pipeline's hostile-input decoder.

    :func:`deeplens.vision.images.decode_image` also refuses images with a side under 32
    px (too small to *match*); the in-process embedder embeds them, so the server does
    too: such an image (already proven complete by that decoder) is decoded by OpenCV.
    """
    try:
        return decode_image(data)
    except BadInput as exc:
        if exc.reason != "image_too_small":
            raise
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise BadInput("corrupt_image", "the image cannot be decoded")
    return image


def with_binary_default(request: InferRequest) -> list[RequestedOutput] | None:
    """The outputs a request names, the request's ``binary_data_output`` given to each that sets no ``binary_data``.

    That is the binary tensor extension's rule; kserve 0.21 reads only the per-output flag
    once a request names outputs (kserve/kserve#5907), which would send JSON to a client
    that asked for binary.
    """
    if not request.request_outputs:
        return None
    return [
        out
        if out.binary_data is not None
        else RequestedOutput(out.name, {**(out.parameters or {}), "binary_data": request.use_binary_outputs})
        for out in request.request_outputs
    ]


class PixelRow(NamedTuple):
    """One preprocessed image the image batcher embeds, and whether its request wants class probabilities."""

    pixels: torch.Tensor  # (3, S, S)
    classify: bool


@dataclass
class EmbeddingJob:
    """What ``preprocess`` hands to ``predict``: the request, its rows and the outputs it asks for."""

    request: InferRequest
    kind: str  # IMAGE_INPUT | TEXT_INPUT
    rows: Sequence[Any]  # PixelRow or texts
    outputs: tuple[str, ...]


class EmbeddingModel(kserve.Model):
    """A registry model (:class:`inference.local_embedder.LocalEmbedder`) as a KServe v2 model."""

    def __init__(
        self,
        embedder: LocalEmbedder,
        *,
        name: str | None = None,
        max_batch_size: int | None = None,
        max_wait_s: float,
        max_items: int,
    ) -> None:
        super().__init__(name or embedder.spec.name)
        self.embedder = embedder
        self.max_batch_size = max_batch_size or embedder.batch_size
        self.max_wait_s = max_wait_s
        self.max_items = max_items
        self.image_batcher: MicroBatcher | None = None
        self.text_batcher: MicroBatcher | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def load(self) -> bool:
        """Load the weights, run one warm-up pass, and create the batchers."""
        p = self.embedder.load()
        size = p.spec.image_size
        blank = [np.zeros((size, size, 3), dtype=np.uint8)]
        if p.spec.supports_classify:
            p.embed_and_classify(blank)  # the trunk and the head, so no request pays for the head's first call
        else:
            p.embed_images(blank)
        if p.spec.supports_text:
            p.embed_texts(["warm-up"])
        self.image_batcher = MicroBatcher(
            self._embed_pixels,
            max_batch_size=self.max_batch_size,
            max_wait_s=self.max_wait_s,
            name="images",
            on_batch=self._metrics_recorder(IMAGE_INPUT),
        )
        if p.spec.supports_text:
            self.text_batcher = MicroBatcher(
                p.embed_texts,
                max_batch_size=self.max_batch_size,
                max_wait_s=self.max_wait_s,
                name="texts",
                on_batch=self._metrics_recorder(TEXT_INPUT),
            )
        self.ready = True
        log.info("model %s ready: %s", self.name, p.describe())
        return self.ready

    def _metrics_recorder(self, kind: str):
        labels = {"model": self.name, "kind": kind}

        def record(n_requests: int, n_rows: int) -> None:
            BATCHES.labels(**labels).inc()
            BATCHED_REQUESTS.labels(**labels).inc(n_requests)
            BATCHED_ROWS.labels(**labels).inc(n_rows)
            BATCH_ROWS.labels(**labels).observe(n_rows)

        return record

    def stop(self) -> None:
        for batcher in (self.image_batcher, self.text_batcher):
            if batcher is not None:
                batcher.close()
        self.ready = False

    def get_input_types(self) -> list[dict[str, Any]]:
        types = [{"name": IMAGE_INPUT, "datatype": "BYTES", "shape": [-1]}]
        if self.embedder.spec.supports_text:
            types.append({"name": TEXT_INPUT, "datatype": "BYTES", "shape": [-1]})
        return types

    def get_output_types(self) -> list[dict[str, Any]]:
        types = [{"name": EMBEDDING_OUTPUT, "datatype": "FP32", "shape": [-1, self.embedder.spec.dim]}]
        if self.embedder.spec.supports_classify:
            types.append({"name": PROBABILITIES_OUTPUT, "datatype": "FP32", "shape": [-1, self._n_classes]})
        return types

    @property
    def _n_classes(self) -> int:
        return len(self.embedder.class_names)

    def _output_names(self, kind: str) -> list[str]:
        """The outputs a request with input ``kind`` may ask for."""
        if kind == IMAGE_INPUT and self.embedder.spec.supports_classify:
            return [EMBEDDING_OUTPUT, PROBABILITIES_OUTPUT]
        return [EMBEDDING_OUTPUT]

    # --- the forward pass the batcher runs -------------------------------------------------

    def _embed_pixels(self, rows: list[PixelRow]) -> np.ndarray:
        """Rows → ``(N, dim)`` unit embeddings, followed by ``classes`` columns of probabilities
        when any row asks for them.

        Requests that share a batch share its forward passes whatever outputs each asked for;
        only a batch holding a request for probabilities pays for the classifier.
        """
        p = self.embedder
        classify = any(row.classify for row in rows)
        parts = []
        for start in range(0, len(rows), p.batch_size):
            pixels = torch.stack([row.pixels for row in rows[start : start + p.batch_size]])
            if classify:
                parts.append(np.hstack(p.embed_and_classify_pixels(pixels)))
            else:
                parts.append(p.postprocess(p.predict(pixels)))
        return np.concatenate(parts, axis=0)

    # --- request handling ------------------------------------------------------------------

    def _decode_one(self, i: int, value: str | bytes) -> torch.Tensor:
        """One element → its preprocessed ``(3, S, S)`` tensor (runs in a worker thread)."""
        data = image_bytes(i, value)
        try:
            image = decode_request_image(data)
        except BadInput as exc:
            raise _invalid(exc.reason, f"input 'image' element {i}: {exc.message}") from exc
        return self.embedder.preprocess([image])[0]

    def _requested_outputs(self, request: InferRequest, kind: str) -> tuple[str, ...]:
        """The outputs the request names (``embedding`` alone when it names none), checked."""
        if not request.request_outputs:
            return (EMBEDDING_OUTPUT,)
        names = tuple(out.name for out in request.request_outputs)
        if PROBABILITIES_OUTPUT in names and not self.embedder.spec.supports_classify:
            raise _invalid(
                UNSUPPORTED_REASON,
                f"model {self.name} has no classifier; ask for the {EMBEDDING_OUTPUT!r} output only",
            )
        available = self._output_names(kind)
        if any(n not in available for n in names) or len(set(names)) != len(names):
            raise _invalid(
                "bad_outputs",
                f"model {self.name} answers an input {kind!r} with the outputs {available}, each asked for "
                f"at most once; got {list(names)}",
            )
        return names

    def validate(self, payload: Any) -> Any:
        return payload  # preprocess already checked it

    async def preprocess(self, payload: Any, headers: dict[str, str] | None = None) -> EmbeddingJob:
        if not isinstance(payload, InferRequest):
            raise _invalid(
                "bad_protocol",
                f"this model server speaks the Open Inference Protocol v2: POST /v2/models/{self.name}/infer "
                f"with a BYTES input {IMAGE_INPUT!r} (base64 images) or {TEXT_INPUT!r} (strings)",
            )
        known = {IMAGE_INPUT, TEXT_INPUT}
        names = [inp.name for inp in payload.inputs]
        unknown = [n for n in names if n not in known]
        if unknown or len(names) != 1:
            raise _invalid(
                "bad_inputs",
                f"expected exactly one input, named {IMAGE_INPUT!r} (BYTES: base64-encoded JPEG/PNG images) "
                f"or {TEXT_INPUT!r} (BYTES: UTF-8 strings); got {names}",
            )
        inp = payload.inputs[0]
        if inp.name == TEXT_INPUT and not self.embedder.spec.supports_text:
            raise _invalid(UNSUPPORTED_REASON, f"model {self.name} has no text tower; send an {IMAGE_INPUT!r} input")
        outputs = self._requested_outputs(payload, inp.name)
        values = bytes_elements(inp)
        if len(values) > self.max_items:
            raise _invalid("too_many", f"input {inp.name!r} has {len(values)} elements; the limit is {self.max_items}")
        if inp.name == TEXT_INPUT:
            texts = [v.decode("utf-8", errors="replace") if isinstance(v, bytes) else v for v in values]
            return EmbeddingJob(payload, TEXT_INPUT, texts, outputs)
        # Decode and resize each image in its own worker thread (cv2 and PIL release the GIL).
        pixels = await asyncio.gather(*(asyncio.to_thread(self._decode_one, i, v) for i, v in enumerate(values)))
        classify = PROBABILITIES_OUTPUT in outputs
        return EmbeddingJob(payload, IMAGE_INPUT, [PixelRow(p, classify) for p in pixels], outputs)

    async def predict(
        self, payload: EmbeddingJob, headers: dict[str, str] | None = None
    ) -> tuple[EmbeddingJob, dict[str, np.ndarray]]:
        dim = self.embedder.spec.dim
        if not payload.rows:
            width = dim + (self._n_classes if PROBABILITIES_OUTPUT in payload.outputs else 0)
            rows = np.zeros((0, width), dtype=np.float32)
        else:
            batcher = self.text_batcher if payload.kind == TEXT_INPUT else self.image_batcher
            try:
                rows = await batcher.submit(payload.rows)
            except (BadInput, Unsupported) as exc:
                reason = exc.reason if isinstance(exc, BadInput) else UNSUPPORTED_REASON
                raise _invalid(reason, str(exc.message if isinstance(exc, BadInput) else exc)) from exc
        # Sliced even for embeddings alone: a batch shared with a request for probabilities has their columns too.
        columns = {EMBEDDING_OUTPUT: slice(None, dim), PROBABILITIES_OUTPUT: slice(dim, None)}
        tensors = {name: np.ascontiguousarray(rows[:, columns[name]], dtype=np.float32) for name in payload.outputs}
        return payload, tensors

    async def postprocess(
        self,
        result: tuple[EmbeddingJob, dict[str, np.ndarray]],
        headers: dict[str, str] | None = None,
        response_headers=None,
    ) -> InferResponse:
        job, tensors = result
        request = job.request
        outputs = []
        for name in job.outputs:  # only those asked for: kserve 0.21's to_grpc sends every output it is given
            data = tensors[name]
            output = InferOutput(name=name, shape=list(data.shape), datatype="FP32", data=data)
            if request.from_grpc:
                # kserve 0.21's to_grpc tests an ndarray's truth value when the request had raw
                # inputs (ValueError → 500); serialise here, as raw bytes or a list as asked.
                output.set_data_from_numpy(data, binary_data=request.use_binary_outputs)
            outputs.append(output)
        return InferResponse(
            response_id=request.id or str(uuid.uuid4()),
            model_name=request.model_name or self.name,
            infer_outputs=outputs,
            use_binary_outputs=request.use_binary_outputs,
            requested_outputs=with_binary_default(request),
        )


def install_http_adapters(app: FastAPI) -> None:
    """Let kserve's FastAPI app take stock Triton clients' requests and answer bad bodies without quoting them.

    Called before :class:`kserve.ModelServer` starts: kserve adds its own middlewares and
    exception handlers then, and replaces none of these (it registers no handler for
    ``RequestValidationError`` or ``HTTPException``).
    """
    app.add_middleware(V2RequestAdapter)
    app.add_exception_handler(RequestValidationError, validation_error_answer)
    app.add_exception_handler(HTTPException, http_error_answer)


def served_model(settings: Settings, *, max_batch_size: int | None = None) -> EmbeddingModel:
    """The model the settings describe as the server serves it (not loaded yet): the pipeline's
    in-process model (:meth:`LocalEmbedder.from_settings`) behind the server's batchers."""
    # The batchers are the model's one caller in a server process (no broker workers share
    # the cores), so a model call may use every core unless DEEPLENS_TORCH_THREADS says otherwise.
    embedder = LocalEmbedder.from_settings(settings.model_copy(update={"workers": 1}))
    return EmbeddingModel(
        embedder,
        max_batch_size=max_batch_size,
        max_wait_s=settings.batch_wait_ms / 1000.0,
        max_items=settings.max_items_per_request,
    )


def serve(
    settings: Settings,
    *,
    enable_grpc: bool = False,
    grpc_port: int = 8081,
    aliases: Sequence[str] = (),
    max_batch_size: int | None = None,
) -> None:
    """Load the model the settings describe and serve it on ``settings.http_port`` until stopped."""
    model = served_model(settings, max_batch_size=max_batch_size)
    model.load()
    install_http_adapters(kserve.model_server.app)
    server = kserve.ModelServer(http_port=settings.http_port, grpc_port=grpc_port, enable_grpc=enable_grpc, workers=1)
    for alias in aliases:
        if alias and alias != model.name:
            server.register_model(model, name=alias)
    server.start([model])
