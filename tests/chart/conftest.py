"""Fixtures of the chart tests (helpers live in chartkit.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("helm_python", reason="helm-python-sdk is not installed (pip install helm-python-sdk)")

from chartkit import CHART, CRDS, VALUE_SETS, Chart, Rendered, load_crd_schemas


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that take ``value_set`` run once per value set in chartkit.VALUE_SETS."""
    if "value_set" in metafunc.fixturenames:
        metafunc.parametrize("value_set", list(VALUE_SETS), ids=list(VALUE_SETS))


@pytest.fixture(scope="session")
def chart() -> Iterator[Chart]:
    loaded = Chart(CHART)
    yield loaded
    loaded.chart.close()


@pytest.fixture(scope="session")
def render(chart: Chart) -> Callable[..., Rendered]:
    """``render(values, name=..., namespace=...)``: the chart's manifests for those values (cached)."""
    return chart.render


@pytest.fixture(scope="session")
def defaults(render: Callable[..., Rendered]) -> Rendered:
    return render()


@pytest.fixture
def rendered_set(render: Callable[..., Rendered], value_set: str) -> Rendered:
    return render(VALUE_SETS[value_set])


@pytest.fixture(scope="session")
def routes() -> list[dict[str, str]]:
    return json.loads((CHART / "files" / "routes.json").read_text())


@pytest.fixture(scope="session")
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    if not CRDS.is_dir():
        pytest.skip(f"the upstream CRDs are not at {CRDS} (CI checks out ../shared beside the repository)")
    return load_crd_schemas()
