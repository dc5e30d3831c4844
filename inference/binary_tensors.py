"""Binary BYTES inputs (the v2 binary tensor extension) carried past kserve 0.21 intact.

kserve 0.21 turns each element of a binary BYTES input into a UTF-8 string
(``InferRequest.from_bytes`` → ``set_data_from_numpy(binary_data=False)``). An element that
is not UTF-8 — an encoded image, which is what a Triton client sends for an ``np.object_``
array of ``bytes`` — fails there with an ``InferenceError`` quoting the whole element: a 500
whose body echoes the image. :func:`base64_bytes_inputs` rewrites each binary BYTES input's
elements as their base64 text (always UTF-8) and marks the input with
:data:`BASE64_PARAMETER`, so the model decodes them back to the bytes the client sent.

Framing (Triton's and kserve's): each BYTES element is a 4-byte little-endian length, then
that many bytes; an input's elements are ``parameters.binary_data_size`` bytes in all, after
the JSON header and the inputs before it.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from typing import Any

#: Input parameter saying each element of a BYTES input is the base64 text of the element's bytes.
BASE64_PARAMETER = "deeplens_base64_elements"

_LENGTH = struct.Struct("<I")


class MalformedBody(ValueError):
    """A binary-extension body whose framing does not hold together; the message never quotes the body."""


def split_elements(segment: bytes) -> list[bytes]:
    """The elements of one BYTES input's binary segment (length-prefixed, back to back)."""
    elements = []
    offset = 0
    while offset < len(segment):
        if offset + _LENGTH.size > len(segment):
            raise MalformedBody(f"a BYTES element's 4-byte length is cut off at byte {offset} of {len(segment)}")
        (length,) = _LENGTH.unpack_from(segment, offset)
        offset += _LENGTH.size
        if offset + length > len(segment):
            raise MalformedBody(
                f"a BYTES element claims {length} bytes but only {len(segment) - offset} remain in its input"
            )
        elements.append(segment[offset : offset + length])
        offset += length
    return elements


def join_elements(elements: list[bytes]) -> bytes:
    """One BYTES input's binary segment from its elements (the inverse of :func:`split_elements`)."""
    return b"".join(_LENGTH.pack(len(e)) + e for e in elements)


def _header(body: bytes, json_length: int) -> dict[str, Any]:
    if not 0 < json_length <= len(body):
        raise MalformedBody(f"inference-header-content-length is {json_length} but the body has {len(body)} bytes")
    try:
        header = json.loads(body[:json_length])
    except ValueError:  # JSONDecodeError and UnicodeDecodeError; their messages may quote the body
        raise MalformedBody(f"the {json_length}-byte JSON header is not JSON") from None
    if not isinstance(header, dict) or not isinstance(header.get("inputs"), list):
        raise MalformedBody("the JSON header is not an inference request (an object with a list of 'inputs')")
    return header


def _element_count(inp: dict[str, Any]) -> int:
    shape = inp.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise MalformedBody(f"input {str(inp.get('name'))[:64]!r} has no shape of non-negative integers")
    return math.prod(shape)


def base64_bytes_inputs(body: bytes, json_length: int) -> tuple[bytes, int]:
    """``body`` (a binary-extension request) with each binary BYTES input's elements base64-encoded and marked.

    Returns the new body and its JSON header's length; a body with no binary BYTES input is
    returned as it is. Inputs of other datatypes keep their binary data, in order.
    Raises :class:`MalformedBody` when the header or the binary segments do not add up.
    """
    header = _header(body, json_length)
    offset = json_length
    segments = []
    rewritten = False
    for inp in header["inputs"]:
        params = inp.get("parameters") if isinstance(inp, dict) else None
        if not isinstance(params, dict) or "binary_data_size" not in params:
            continue  # data in the JSON (or not an input at all: kserve answers that)
        name = str(inp.get("name"))[:64]
        size = params["binary_data_size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 or offset + size > len(body):
            raise MalformedBody(
                f"input {name!r} has binary_data_size {str(size)[:32]} but {len(body) - offset} bytes remain"
            )
        segment = body[offset : offset + size]
        offset += size
        if inp.get("datatype") == "BYTES":
            elements = split_elements(segment)
            if len(elements) != _element_count(inp):
                raise MalformedBody(f"input {name!r} has shape {str(inp['shape'])[:64]} but {len(elements)} elements")
            segment = join_elements([base64.b64encode(e) for e in elements])
            inp["parameters"] = {**params, "binary_data_size": len(segment), BASE64_PARAMETER: True}
            rewritten = True
        segments.append(segment)
    if offset != len(body):
        raise MalformedBody(f"{len(body) - offset} bytes follow the last input's binary data")
    if not rewritten:
        return body, json_length
    new_header = json.dumps(header).encode()
    return new_header + b"".join(segments), len(new_header)
