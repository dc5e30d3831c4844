"""Schemathesis against the running results service: no request the schema allows (or breaks) gets a
server error, and every answer is one the OpenAPI schema documents, in its documented shape.

The service runs on a loopback port with auth on, over a processed tiny dataset; every
request carries an API key with every scope of that tenant (one per operation). Generation is derandomised, so
the same requests are sent each run.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from deeplens.api import create_app
from deeplens.auth import ADMIN, READ, WRITE
from deeplens.auth.keys import ApiKeyStore
from deeplens.pipeline.services import Services

EXAMPLES_PER_OPERATION = 60
MIN_REQUESTS = 1000
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SENT: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def service(process_tiny_dataset):
    """The results service of a processed tenant on a loopback port, auth on; its URL and a maker of API keys."""
    with process_tiny_dataset("fuzz", seed=5, with_empty_video=True) as (runtime, _, _):
        settings_on = runtime.settings.model_copy(update={"auth_enabled": True, "auth_api_keys_only": True})
        services = Services(settings_on, runtime.services.db, runtime.services.store, _embedder=runtime.services.embedder)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(services, runtime.queue), host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        yield url, lambda: ApiKeyStore(services.db).create(runtime.settings.tenant, [READ, WRITE, ADMIN], name="fuzz",
                                                           expires_in=timedelta(days=1))[1]
        server.should_exit = True
        thread.join(timeout=10)


def fuzz(operation, mode: GenerationMode, url: str, key: str) -> None:
    """Send ``EXAMPLES_PER_OPERATION`` generated requests to one operation; raise on the first failed check."""

    @given(operation.as_strategy(mode))
    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def one(case) -> None:
        # The schema declares bearer auth, so generated cases carry made-up tokens: send the real key instead.
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {key}"}
        response = case.call_and_validate(base_url=url, checks=CHECKS)
        SENT[operation.label] += 1
        STATUSES[response.status_code] += 1

    one()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_request_gets_a_server_error_or_an_answer_the_schema_does_not_document(service, mode):
    url, new_key = service
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    failures = []
    for operation in (result.ok() for result in schema.get_all_operations()):
        try:
            # A key of its own: DELETE /keys/{id} revokes random ids, the key it was called with among them.
            fuzz(operation, mode, url, new_key())
        except Unsatisfiable:
            continue  # nothing of this operation can be made invalid (no parameters, no body)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every operation is fuzzed; the failures are listed together
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    assert not failures, "\n\n".join(failures)


def test_the_fuzzer_sent_enough_requests():
    # Runs after the parametrized cases (pytest keeps file order).
    total = sum(SENT.values())
    print(f"schemathesis: {total} requests over {len(SENT)} operations; statuses {dict(sorted(STATUSES.items()))}")
    assert total >= MIN_REQUESTS, SENT
