"""The wire format the model server (:mod:`inference.server`) and its client (:mod:`inference.client`) share.

Open Inference Protocol v2, ``POST /v2/models/<model>/infer``:

- request: one input, either ``image`` (``BYTES``, shape ``[N]``, each element an encoded
  JPEG/PNG/WebP/BMP/GIF/TIFF image, base64 in JSON) or ``text`` (``BYTES``, shape ``[N]``,
  each element a UTF-8 string; models with a text tower only);
- response: one output, ``embedding`` (``FP32``, shape ``[N, dim]``, rows L2-normalised),
  as JSON numbers or, when the request has ``"parameters": {"binary_data_output": true}``,
  as raw little-endian float32 after the JSON header (binary tensor extension; the header
  length is in ``Inference-Header-Content-Length``);
- a request that names ``"outputs": [{"name": "embedding"}, {"name": "probabilities"}]``
  to a model with a classifier (its metadata lists a ``probabilities`` output) gets both,
  the class probabilities (``FP32``, ``[N, classes]``) from the same forward pass;
- errors: ``400 {"error": "<reason>: <message>"}`` for bad input (reason e.g.
  ``bad_base64``, ``not_an_image``, ``corrupt_image``, ``unsupported`` for text on an
  image-only model or probabilities from a model without a classifier), ``404`` for an
  unknown model, ``5xx`` for faults on the server.
"""

from __future__ import annotations

#: Names of the tensors on the wire.
IMAGE_INPUT = "image"
TEXT_INPUT = "text"
EMBEDDING_OUTPUT = "embedding"
PROBABILITIES_OUTPUT = "probabilities"
#: The v2 binary tensor extension's header.
HEADER_LENGTH = "inference-header-content-length"
#: Reason code of the 400 a text request to an image-only model gets.
UNSUPPORTED_REASON = "unsupported"
