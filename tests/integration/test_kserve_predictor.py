"""The KServe predictor: a real ``python -m inference`` model server process, real v2 requests.

The server's vectors and class probabilities must equal the in-process LocalEmbedder's (the
pipeline may use either), bad input must get a clear 4xx, and
:class:`inference.client.RemotePredictor` must give the pipeline the same calls over HTTP.
"""

from __future__ import annotations

import base64
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import cv2
import httpx
import numpy as np
import pytest
import tritonclient.http as httpclient
from openclipkit import TINY_CLIP, save_open_clip_checkpoint
from servingkit import free_port, server_process
from tritonclient.utils import InferenceServerException

from deeplens.db import Database
from deeplens.errors import BadInput, NotFound, Unsupported
from deeplens.pipeline.services import Services
from deeplens.runtime import LocalRuntime
from deeplens.search import SearchEngine, SearchOptions
from deeplens.storage.factory import open_store
from deeplens.vision.images import decode_image
from inference.client import PredictorUnavailable, RemotePredictor
from inference.local_embedder import LocalEmbedder

MAX_ITEMS = 8  # the mobilenet server's per-request limit, small so a test can exceed it
TEXTS = ["a red running shoe", "a blue backpack", "a black wristwatch"]
BOTH = [{"name": "embedding"}, {"name": "probabilities"}]  # the v2 "outputs" of a request for class probabilities too
T = TypeVar("T")


@contextmanager
def model_server(log_dir: Path, env: dict[str, str], *args: str) -> Iterator[str]:
    """A ``python -m inference`` process on a free port; yields its base URL once ready.

    HTTP only (the default) unless ``args`` enable gRPC.
    """
    port = free_port()
    command = [sys.executable, "-m", "inference", "--http_port", str(port), *args]
    with server_process(command, port, log_dir, env, ready_path="/v2/health/ready") as url:
        yield url


@pytest.fixture(scope="module")
def grpc_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def server(tmp_path_factory, grpc_port) -> Iterator[str]:
    args = ("--max_items", str(MAX_ITEMS), "--enable_grpc", "true", "--grpc_port", str(grpc_port))
    with model_server(tmp_path_factory.mktemp("kserve"), {"DEEPLENS_MODEL": "mobilenet_v2"}, *args) as url:
        yield url


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    out = []
    for i in range(6):
        img = rng.integers(0, 256, (60 + 17 * i, 80 + 11 * i, 3), dtype=np.uint8)
        img = cv2.GaussianBlur(img, (5, 5), 0)  # some structure, like a photo
        cv2.rectangle(img, (5 + i, 5), (40, 30 + i), (255 - 30 * i, 40 * i, 128), -1)
        out.append(img)
    return out


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def infer(url: str, model: str, name: str, data: list, **extra) -> httpx.Response:
    body = {"inputs": [{"name": name, "datatype": "BYTES", "shape": [len(data)], "data": data}], **extra}
    return httpx.post(f"{url}/v2/models/{model}/infer", json=body, timeout=60)


def outputs(response: httpx.Response) -> dict[str, np.ndarray]:
    """A JSON infer response's FP32 outputs by name."""
    assert response.status_code == 200, response.text
    found = {}
    for out in response.json()["outputs"]:
        assert out["datatype"] == "FP32"
        found[out["name"]] = np.asarray(out["data"], dtype=np.float32).reshape(out["shape"])
    return found


def embeddings(response: httpx.Response) -> np.ndarray:
    (vectors,) = outputs(response).values()
    return vectors


def metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    return sum(float(v) for v in re.findall(rf'^{name}\{{[^}}]*kind="image"[^}}]*\}} (\S+)$', text, re.MULTILINE))


# --- the v2 protocol ------------------------------------------------------------------------


def test_image_request_returns_one_unit_norm_1280_d_fp32_embedding_per_image(server, images):
    vectors = embeddings(infer(server, "mobilenet_v2", "image", [b64(png(im)) for im in images[:2]]))
    assert vectors.shape == (2, 1280)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_server_vectors_equal_the_in_process_predictor_for_lossless_png(server, images, predictor):
    vectors = embeddings(infer(server, "mobilenet_v2", "image", [b64(png(im)) for im in images]))
    np.testing.assert_allclose(vectors, predictor.embed_images(images), atol=1e-4)


def test_jpeg_images_give_the_in_process_vectors_of_the_decoded_jpeg(server, images, predictor):
    jpegs = [cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes() for im in images[:3]]
    vectors = embeddings(infer(server, "mobilenet_v2", "image", [b64(j) for j in jpegs]))
    np.testing.assert_allclose(vectors, predictor.embed_images([decode_image(j) for j in jpegs]), atol=1e-4)


def test_a_batch_gives_the_same_vectors_as_one_request_per_image(server, images):
    batched = embeddings(infer(server, "mobilenet_v2", "image", [b64(png(im)) for im in images]))
    single = np.concatenate([embeddings(infer(server, "mobilenet_v2", "image", [b64(png(im))])) for im in images])
    np.testing.assert_allclose(batched, single, atol=1e-4)


def test_binary_output_carries_the_same_floats_as_json(server, images):
    data = [b64(png(im)) for im in images[:2]]
    as_json = embeddings(infer(server, "mobilenet_v2", "image", data))
    binary = infer(server, "mobilenet_v2", "image", data, parameters={"binary_data_output": True})
    n = int(binary.headers["inference-header-content-length"])
    raw = np.frombuffer(binary.content[n:], dtype="<f4").reshape(2, 1280)
    np.testing.assert_array_equal(raw, as_json)


def all_at_once(n: int, call: Callable[[int], T]) -> dict[int, T]:
    """``call(i)`` for each i < n, from n threads released together (so requests overlap);
    every result, by i."""
    start = threading.Barrier(n)
    results: dict[int, T] = {}

    def run(i: int) -> None:
        start.wait()
        results[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(n)), "a request failed"
    return results


def test_concurrent_requests_are_each_answered_with_their_own_vectors_and_share_forward_passes(
    server, images, predictor
):
    expected = predictor.embed_images(images)
    n_requests = 18
    batches_before, rows_before = metric(server, "deeplens_predictor_batches_total"), metric(
        server, "deeplens_predictor_batched_rows_total"
    )
    results = all_at_once(
        n_requests, lambda i: embeddings(infer(server, "mobilenet_v2", "image", [b64(png(images[i % len(images)]))]))
    )
    for i, got in results.items():
        np.testing.assert_allclose(got[0], expected[i % len(images)], atol=1e-4)
    assert metric(server, "deeplens_predictor_batched_rows_total") - rows_before == n_requests
    assert metric(server, "deeplens_predictor_batches_total") - batches_before < n_requests


def test_model_metadata_declares_the_image_input_and_the_embedding_and_probabilities_outputs(server):
    meta = httpx.get(f"{server}/v2/models/mobilenet_v2").json()
    assert meta["inputs"] == [{"name": "image", "datatype": "BYTES", "shape": [-1]}]
    assert meta["outputs"] == [
        {"name": "embedding", "datatype": "FP32", "shape": [-1, 1280]},
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, 1000]},
    ]


# --- class probabilities ----------------------------------------------------------------------


def test_a_request_naming_probabilities_gets_the_in_process_embeddings_and_probabilities(server, images, predictor):
    got = outputs(infer(server, "mobilenet_v2", "image", [b64(png(im)) for im in images], outputs=BOTH))
    vectors, probs = predictor.embed_and_classify(images)
    assert list(got) == ["embedding", "probabilities"] and got["probabilities"].shape == (6, 1000)
    np.testing.assert_allclose(got["embedding"], vectors, atol=1e-4)
    np.testing.assert_allclose(got["probabilities"], probs, atol=1e-5)


def test_a_request_naming_no_outputs_gets_the_embedding_alone(server, images):
    response = infer(server, "mobilenet_v2", "image", [b64(png(images[0]))])
    assert [out["name"] for out in response.json()["outputs"]] == ["embedding"]


def test_a_request_naming_only_probabilities_gets_only_probabilities(server, images, predictor):
    got = outputs(infer(server, "mobilenet_v2", "image", [b64(png(images[0]))], outputs=[{"name": "probabilities"}]))
    assert list(got) == ["probabilities"]
    np.testing.assert_allclose(got["probabilities"], predictor.classify(images[:1]), atol=1e-5)


def test_binary_output_covers_every_named_output(server, images):
    data = [b64(png(im)) for im in images[:2]]
    as_json = outputs(infer(server, "mobilenet_v2", "image", data, outputs=BOTH))
    binary = infer(server, "mobilenet_v2", "image", data, outputs=BOTH, parameters={"binary_data_output": True})
    n = int(binary.headers["inference-header-content-length"])
    raw = np.frombuffer(binary.content[n:], dtype="<f4")
    np.testing.assert_array_equal(raw[: 2 * 1280].reshape(2, 1280), as_json["embedding"])
    np.testing.assert_array_equal(raw[2 * 1280 :].reshape(2, 1000), as_json["probabilities"])


def test_concurrent_requests_with_and_without_probabilities_share_forward_passes_and_get_what_each_asked(
    server, images, predictor
):
    vectors, probs = predictor.embed_and_classify(images)
    n_requests = 18
    batches_before = metric(server, "deeplens_predictor_batches_total")

    def one(i: int) -> dict[str, np.ndarray]:
        extra = {"outputs": BOTH} if i % 2 else {}
        return outputs(infer(server, "mobilenet_v2", "image", [b64(png(images[i % len(images)]))], **extra))

    results = all_at_once(n_requests, one)
    for i, got in results.items():
        assert list(got) == (["embedding", "probabilities"] if i % 2 else ["embedding"])
        np.testing.assert_allclose(got["embedding"][0], vectors[i % len(images)], atol=1e-4)
        if i % 2:
            np.testing.assert_allclose(got["probabilities"][0], probs[i % len(images)], atol=1e-5)
    assert metric(server, "deeplens_predictor_batches_total") - batches_before < n_requests


def test_grpc_clients_get_the_outputs_they_name(server, grpc_port, images, predictor):
    import asyncio

    from kserve import InferenceGRPCClient, InferInput, InferRequest
    from kserve.protocol.infer_type import RequestedOutput

    async def over_grpc(names: list[str]) -> dict[str, np.ndarray]:
        image = InferInput("image", [2], "BYTES")
        image.set_data_from_numpy(np.array([png(im) for im in images[:2]], dtype=np.object_), binary_data=True)
        request = InferRequest(
            model_name="mobilenet_v2", infer_inputs=[image], request_outputs=[RequestedOutput(n) for n in names]
        )
        client = InferenceGRPCClient(f"127.0.0.1:{grpc_port}")
        try:
            response = await client.infer(request)
        finally:
            await client.close()
        return {out.name: out.as_numpy() for out in response.outputs}

    got = asyncio.run(over_grpc(["probabilities"]))
    assert list(got) == ["probabilities"]
    np.testing.assert_allclose(got["probabilities"], predictor.classify(images[:2]), atol=1e-5)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("element", "reason"),
    [
        ("this is not base64!", "bad_base64"),
        (b64(b"plain text, not an image at all"), "not_an_image"),
        (b64(cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))[1].tobytes()[:200]), "corrupt_image"),
    ],
    ids=["not-base64", "not-an-image", "truncated-jpeg"],
)
def test_a_bad_image_element_gets_400_naming_the_reason_and_the_element(server, images, element, reason):
    response = infer(server, "mobilenet_v2", "image", [b64(png(images[0])), element])
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"{reason}: ") and "element 1" in response.json()["error"]


def test_an_input_with_another_name_gets_400_saying_which_inputs_exist(server):
    response = infer(server, "mobilenet_v2", "pixels", ["x"])
    assert response.status_code == 400
    assert "'image'" in response.json()["error"] and "'text'" in response.json()["error"]


def test_a_body_that_is_not_a_v2_request_gets_a_4xx(server):
    response = httpx.post(f"{server}/v2/models/mobilenet_v2/infer", json={"instances": [1, 2]})
    assert 400 <= response.status_code < 500


def test_text_to_an_image_only_model_gets_400_unsupported(server):
    response = infer(server, "mobilenet_v2", "text", ["a red shoe"])
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported: model mobilenet_v2 has no text tower; send an 'image' input"


def test_an_output_with_another_name_gets_400_saying_which_outputs_exist(server, images):
    response = infer(server, "mobilenet_v2", "image", [b64(png(images[0]))], outputs=[{"name": "logits"}])
    assert response.status_code == 400
    assert response.json()["error"].startswith("bad_outputs: ") and "'probabilities'" in response.json()["error"]


def test_unknown_model_gets_404(server, images):
    assert infer(server, "no-such-model", "image", [b64(png(images[0]))]).status_code == 404


def test_a_malformed_field_gets_400_naming_it_without_quoting_the_body(server):
    body = {"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": "A" * 300_000}]}
    response = httpx.post(f"{server}/v2/models/mobilenet_v2/infer", json=body, timeout=60)
    assert response.status_code == 400 and len(response.content) < 300
    assert response.json()["error"].startswith("bad_request: ") and "inputs.0.data" in response.json()["error"]


# --- a stock Triton client (tritonclient.http) ----------------------------------------------
# It sends JSON requests without a Content-Type, and BYTES elements as raw bytes when asked
# for binary data (the binary tensor extension).


def triton_input(name: str, elements: list[bytes], *, binary: bool) -> httpclient.InferInput:
    inp = httpclient.InferInput(name, [len(elements)], "BYTES")
    inp.set_data_from_numpy(np.array(elements, dtype=np.object_), binary_data=binary)
    return inp


def triton_body(elements: list[bytes]) -> tuple[bytes, int]:
    """The body and JSON header length a Triton client sends for these ``image`` elements as binary data."""
    return httpclient.InferenceServerClient.generate_request_body([triton_input("image", elements, binary=True)])


def triton_post(url: str, elements: list[bytes]) -> httpx.Response:
    """The binary-extension request a Triton client sends for these ``image`` elements, and the raw answer."""
    body, json_size = triton_body(elements)
    headers = {"Inference-Header-Content-Length": str(json_size)}
    return httpx.post(f"{url}/v2/models/mobilenet_v2/infer", content=body, headers=headers, timeout=60)


@contextmanager
def triton_client(url: str) -> Iterator[httpclient.InferenceServerClient]:
    client = httpclient.InferenceServerClient(url.removeprefix("http://"), network_timeout=60)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    """A 120 KB JPEG (the size of the photo in the operations issue)."""
    noise = np.random.default_rng(5).integers(0, 256, (400, 400, 3), dtype=np.uint8)
    data = cv2.imencode(".jpg", cv2.GaussianBlur(noise, (3, 3), 0), [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    assert 100_000 < len(data) < 140_000
    return data


@pytest.mark.parametrize(
    ("binary_inputs", "binary_outputs"),
    [(False, False), (False, True), (True, False), (True, True)],
    ids=["json-in-json-out", "json-in-binary-out", "binary-in-json-out", "binary-in-binary-out"],
)
def test_a_triton_client_gets_the_in_process_embeddings_in_every_encoding(
    server, images, predictor, binary_inputs, binary_outputs
):
    # JSON carries base64 text (a Triton client cannot put raw bytes in JSON); binary carries the PNG bytes.
    elements = [png(im) if binary_inputs else b64(png(im)).encode() for im in images[:3]]
    with triton_client(server) as client:
        result = client.infer(
            "mobilenet_v2",
            [triton_input("image", elements, binary=binary_inputs)],
            outputs=[httpclient.InferRequestedOutput("embedding", binary_data=binary_outputs)],
        )
    np.testing.assert_allclose(result.as_numpy("embedding"), predictor.embed_images(images[:3]), atol=1e-4)


def test_a_triton_client_sending_a_raw_jpeg_gets_the_embedding_of_its_decoding(server, big_jpeg, predictor):
    with triton_client(server) as client:
        result = client.infer("mobilenet_v2", [triton_input("image", [big_jpeg], binary=True)])
    np.testing.assert_allclose(result.as_numpy("embedding"), predictor.embed_images([decode_image(big_jpeg)]), atol=1e-4)


def test_a_triton_client_asking_for_probabilities_gets_the_in_process_ones(server, images, predictor):
    with triton_client(server) as client:
        result = client.infer(
            "mobilenet_v2",
            [triton_input("image", [png(images[0])], binary=True)],
            outputs=[httpclient.InferRequestedOutput("probabilities", binary_data=True)],
        )
    np.testing.assert_allclose(result.as_numpy("probabilities"), predictor.classify(images[:1]), atol=1e-5)


def test_a_triton_client_is_told_400_for_a_corrupt_image(server, big_jpeg):
    with triton_client(server) as client, pytest.raises(InferenceServerException) as info:
        client.infer("mobilenet_v2", [triton_input("image", [big_jpeg[: len(big_jpeg) // 2]], binary=True)])
    assert info.value.status() == "400" and info.value.message().startswith("corrupt_image: ")


def test_a_corrupt_raw_jpeg_gets_a_short_400_that_quotes_none_of_it(server, big_jpeg):
    truncated = big_jpeg[: len(big_jpeg) // 2]
    response = triton_post(server, [truncated])
    assert response.status_code == 400 and len(response.content) < 300
    assert response.json()["error"].startswith("corrupt_image: ") and b64(truncated)[:40] not in response.text


def test_300_kb_of_random_bytes_get_a_short_400(server):
    noise = np.random.default_rng(7).bytes(300_000)
    response = triton_post(server, [noise])
    assert response.status_code == 400 and len(response.content) < 300
    assert response.json()["error"].startswith("not_an_image: ") and b64(noise)[:40] not in response.text


def _cut_short(body: bytes, n: int) -> tuple[bytes, str]:
    return body[:-1000], str(n)


def _trailing_bytes(body: bytes, n: int) -> tuple[bytes, str]:
    return body + b"\0" * 16, str(n)


def _header_past_the_body(body: bytes, n: int) -> tuple[bytes, str]:
    return body, str(len(body) + 1)


def _header_not_a_number(body: bytes, n: int) -> tuple[bytes, str]:
    return body, "twelve"


def _more_elements_than_the_shape(body: bytes, n: int) -> tuple[bytes, str]:
    header = body[:n].replace(b'"shape":[1]', b'"shape":[2]')  # the body holds one element
    assert header != body[:n]
    return header + body[n:], str(len(header))


@pytest.mark.parametrize(
    "spoil",
    [_cut_short, _trailing_bytes, _header_past_the_body, _header_not_a_number, _more_elements_than_the_shape],
    ids=["cut-short", "trailing-bytes", "header-length-past-the-body", "header-length-not-a-number", "shape-mismatch"],
)
def test_a_malformed_binary_body_gets_a_short_400_bad_binary_data(server, big_jpeg, spoil):
    body, header_length = spoil(*triton_body([big_jpeg]))
    response = httpx.post(
        f"{server}/v2/models/mobilenet_v2/infer",
        content=body,
        headers={"Inference-Header-Content-Length": header_length},
        timeout=60,
    )
    assert response.status_code == 400 and len(response.content) < 300
    assert response.json()["error"].startswith("bad_binary_data: ")


@pytest.mark.parametrize("utf8", [True, False], ids=["text", "not-utf8"])
def test_a_body_without_content_type_that_is_not_json_gets_a_short_400(server, big_jpeg, utf8):
    body = b64(big_jpeg).encode() if utf8 else big_jpeg
    response = httpx.post(f"{server}/v2/models/mobilenet_v2/infer", content=body, timeout=60)
    assert response.status_code == 400 and len(response.content) < 300
    assert response.json()["error"].startswith("bad_request: "), response.text


# --- RemotePredictor ------------------------------------------------------------------------


def test_remote_predictor_gives_the_in_process_vectors_over_several_requests(server, images, predictor):
    with RemotePredictor(server, "mobilenet_v2", batch_size=4, concurrency=2) as remote:
        vectors = remote.embed_images(images)  # 6 images → requests of 4 and 2
        assert remote.model_name == "mobilenet_v2" and remote.dim == 1280
    assert vectors.dtype == np.float32 and vectors.shape == (6, 1280)
    np.testing.assert_allclose(vectors, predictor.embed_images(images), atol=1e-4)


def test_remote_predictor_embeds_and_classifies_like_the_in_process_predictor(server, images, predictor):
    with RemotePredictor(server, "mobilenet_v2", batch_size=4) as remote:
        assert remote.supports_classify
        vectors, probs = remote.embed_and_classify(images)  # 6 images → requests of 4 and 2
    expected_vectors, expected_probs = predictor.embed_and_classify(images)
    np.testing.assert_allclose(vectors, expected_vectors, atol=1e-4)
    np.testing.assert_allclose(probs, expected_probs, atol=1e-5)


def test_remote_predictor_classifies_an_empty_list_into_empty_matrices(server):
    with RemotePredictor(server, "mobilenet_v2") as remote:
        vectors, probs = remote.embed_and_classify([])
    assert vectors.shape == (0, 1280) and probs.shape == (0, 1000)


def test_a_features_step_on_the_model_server_stores_class_scores_so_text_search_finds_the_photo(server, settings):
    pytest.importorskip("skimage", reason="scikit-image provides the sample photo")
    from deeplens.search.evaluation import encode, photo

    with RemotePredictor(server, "mobilenet_v2") as remote:
        services = Services(settings, Database(settings.database_url, max_size=4), open_store(settings), _embedder=remote)
        with LocalRuntime(settings, services=services) as runtime:
            services.store.put(f"products/{settings.tenant}/chelsea/chelsea.png", encode(photo("chelsea")))
            assert runtime.broker.run_until_idle(tenant=settings.tenant, timeout=300)
            hits = SearchEngine(services).by_text("cat", SearchOptions())
    assert [h.product for h in hits] == ["chelsea"]


def test_remote_predictor_sends_encoded_images_as_they_are_and_gets_the_vectors_of_their_decoding(
    server, images, predictor
):
    jpegs = [cv2.imencode(".jpg", im)[1].tobytes() for im in images[:3]]
    with RemotePredictor(server, "mobilenet_v2") as remote:
        vectors = remote.embed_image_bytes(jpegs)
    np.testing.assert_allclose(vectors, predictor.embed_images([decode_image(j) for j in jpegs]), atol=1e-4)


def test_remote_predictor_text_on_an_image_only_model_raises_unsupported(server):
    with RemotePredictor(server, "mobilenet_v2") as remote, pytest.raises(Unsupported, match="no text tower"):
        remote.embed_texts(["a red shoe"])


def test_remote_predictor_raises_bad_input_when_the_server_refuses_the_input(server, images):
    with RemotePredictor(server, "mobilenet_v2", batch_size=MAX_ITEMS + 1) as remote, pytest.raises(BadInput) as info:
        remote.embed_images(images[:1] * (MAX_ITEMS + 1))
    assert info.value.reason == "too_many"


def test_remote_predictor_unknown_model_raises_not_found(server, images):
    with RemotePredictor(server, "no-such-model") as remote, pytest.raises(NotFound):
        remote.embed_images(images[:1])


def test_remote_predictor_retries_an_unreachable_server_then_raises_predictor_unavailable(images):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with (
        RemotePredictor(url, "mobilenet_v2", retries=2, backoff=0.01) as remote,
        pytest.raises(PredictorUnavailable, match="after 3 tries"),
    ):
        remote.embed_images(images[:1])


# --- an open_clip model: image and text towers ----------------------------------------------


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory) -> Path:
    return save_open_clip_checkpoint("tiny-test", tmp_path_factory.mktemp("models") / "tiny-test", seed=0, **TINY_CLIP)


@pytest.fixture(scope="module")
def clip_grpc_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def clip_server(tmp_path_factory, clip_dir, clip_grpc_port) -> Iterator[str]:
    env = {"DEEPLENS_MODEL": "open_clip:tiny-test", "DEEPLENS_MODEL_DIR": str(clip_dir.parent)}
    args = ("--batch_wait_ms", "2", "--enable_grpc", "true", "--grpc_port", str(clip_grpc_port))
    with model_server(tmp_path_factory.mktemp("kserve-clip"), env, *args) as url:
        yield url


@pytest.fixture(scope="module")
def clip_predictor(clip_dir) -> LocalEmbedder:
    return LocalEmbedder("open_clip:tiny-test", model_dir=clip_dir.parent).load()


def test_open_clip_server_declares_image_and_text_inputs(clip_server):
    meta = httpx.get(f"{clip_server}/v2/models/open_clip:tiny-test").json()
    assert [i["name"] for i in meta["inputs"]] == ["image", "text"]
    assert meta["outputs"][0]["shape"] == [-1, 32]


def test_probabilities_from_a_model_without_a_classifier_get_400_unsupported(clip_server, images):
    response = infer(clip_server, "open_clip:tiny-test", "image", [b64(png(images[0]))], outputs=BOTH)
    assert response.status_code == 400
    assert response.json()["error"] == (
        "unsupported: model open_clip:tiny-test has no classifier; ask for the 'embedding' output only"
    )


def test_remote_predictor_of_a_model_without_a_classifier_says_it_cannot_classify(clip_server, images):
    with RemotePredictor(clip_server, "open_clip:tiny-test") as remote:
        assert not remote.supports_classify
        with pytest.raises(Unsupported, match="no classifier"):
            remote.embed_and_classify(images[:1])


def test_open_clip_image_embeddings_over_http_equal_the_in_process_ones(clip_server, clip_predictor, images):
    vectors = embeddings(infer(clip_server, "open_clip:tiny-test", "image", [b64(png(im)) for im in images[:3]]))
    np.testing.assert_allclose(vectors, clip_predictor.embed_images(images[:3]), atol=1e-4)


def test_open_clip_text_embeddings_over_http_equal_the_in_process_ones(clip_server, clip_predictor):
    vectors = embeddings(infer(clip_server, "open_clip:tiny-test", "text", TEXTS))
    assert vectors.shape == (3, 32)
    np.testing.assert_allclose(vectors, clip_predictor.embed_texts(TEXTS), atol=1e-4)


def test_remote_predictor_embeds_texts_with_an_open_clip_model(clip_server, clip_predictor):
    with RemotePredictor(clip_server, "open_clip:tiny-test", batch_size=2) as remote:
        assert remote.supports_text
        np.testing.assert_allclose(remote.embed_texts(TEXTS), clip_predictor.embed_texts(TEXTS), atol=1e-4)


def test_grpc_clients_send_raw_image_bytes_and_get_the_same_embeddings(clip_server, clip_grpc_port, images):
    import asyncio

    from kserve import InferenceGRPCClient, InferInput, InferRequest

    async def over_grpc() -> np.ndarray:
        image = InferInput("image", [2], "BYTES")
        image.set_data_from_numpy(np.array([png(im) for im in images[:2]], dtype=np.object_), binary_data=True)
        client = InferenceGRPCClient(f"127.0.0.1:{clip_grpc_port}")
        try:
            response = await client.infer(InferRequest(model_name="open_clip:tiny-test", infer_inputs=[image]))
        finally:
            await client.close()
        return response.outputs[0].as_numpy()

    over_http = embeddings(infer(clip_server, "open_clip:tiny-test", "image", [b64(png(im)) for im in images[:2]]))
    np.testing.assert_allclose(asyncio.run(over_grpc()), over_http, atol=1e-5)


def test_a_triton_client_sending_binary_text_elements_gets_the_in_process_text_embeddings(clip_server, clip_predictor):
    with triton_client(clip_server) as client:
        result = client.infer("open_clip:tiny-test", [triton_input("text", [t.encode() for t in TEXTS], binary=True)])
    np.testing.assert_allclose(result.as_numpy("embedding"), clip_predictor.embed_texts(TEXTS), atol=1e-4)
