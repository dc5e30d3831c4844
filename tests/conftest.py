"""Shared fixtures: one embedded PostgreSQL per test session, one tenant per test.

Every row carries a tenant id, so giving each test its own tenant isolates tests that
share the database without truncating anything.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from deeplens.cli.ingest import ingest_folder
from deeplens.config import Settings
from deeplens.datagen import GroundTruth, generate_dataset
from deeplens.db import Database
from deeplens.db.catalog import upsert_product_image
from deeplens.db.embedded import start_embedded_server
from deeplens.db.index_state import advance_catalog_generation
from deeplens.db.local_features import put_local_features
from deeplens.pipeline.services import Services
from deeplens.runtime import LocalRuntime
from deeplens.storage.factory import open_store
from deeplens.vision.local_features import LocalFeatures, to_bytes


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    """The embedded PostgreSQL + pgvector server for the whole session.

    Its data lives outside pytest's temp tree: the server runs as another system user,
    which cannot traverse pytest's private (0700) folders.
    """
    root = Path(tempfile.mkdtemp(prefix="deeplens-test-pg-"))
    server = start_embedded_server(root / "pgdata")
    yield server
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(pg_server: object) -> str:
    return pg_server.get_uri()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def predictor():
    """The default model, loaded once (loading costs a second or two)."""
    from inference.local_embedder import LocalEmbedder

    return LocalEmbedder("mobilenet_v2").load()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for one test: its own home, store and tenant; fast retries."""
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        tenant=f"t-{uuid.uuid4().hex[:12]}",
        retry=2,
        backoff_delay=0.01,
        workers=2,
    )


def open_services(settings: Settings, predictor, *, max_size: int = 4) -> Services:
    """Services for ``settings`` on their database and store, with the session's model."""
    return Services(settings, Database(settings.database_url, max_size=max_size), open_store(settings), _embedder=predictor)


@pytest.fixture
def services(settings: Settings, predictor) -> Iterator[Services]:
    services = open_services(settings, predictor)
    yield services
    services.close()


@pytest.fixture
def runtime_with(predictor) -> Callable[[Settings], LocalRuntime]:
    """Makes a runtime for other settings (the same database, the session's model); use it as a
    context manager, which closes it."""
    return lambda settings: LocalRuntime(settings, services=open_services(settings, predictor, max_size=2))


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """The tiny preset's dataset (seed 3), generated once for the session; tests only read it."""
    root = tmp_path_factory.mktemp("tiny")
    generate_dataset(root, "tiny", seed=3)
    return root


ProcessedDataset = tuple[LocalRuntime, GroundTruth, Path]
"""A runtime, the truth of the dataset it processed, and the dataset's folder."""


@pytest.fixture(scope="session")
def process_tiny_dataset(tmp_path_factory, database_url: str, predictor) -> Callable[..., AbstractContextManager[ProcessedDataset]]:
    """Generates a tiny dataset and processes it through the in-process pipeline, in a tenant
    of its own; for a module's shared fixture. Use it as a context manager, which closes the
    runtime. ``with_empty_video`` adds an empty video, so the dataset has a recorded failure."""

    @contextmanager
    def process(name: str, *, seed: int, with_empty_video: bool = False) -> Iterator[ProcessedDataset]:
        root = tmp_path_factory.mktemp(name)
        truth = generate_dataset(root / "data", "tiny", seed=seed)
        if with_empty_video:
            (root / "data" / "videos" / "empty.mp4").write_bytes(b"")
        settings = Settings(home=root / "home", database_url=database_url, tenant=f"{name}-{uuid.uuid4().hex[:8]}",
                            backoff_delay=0.01)
        with LocalRuntime(settings, services=open_services(settings, predictor)) as runtime:
            assert ingest_folder(runtime, root / "data", wait=True, timeout=300)
            yield runtime, truth, root / "data"

    return process


@pytest.fixture
def runtime(settings: Settings, services: Services) -> Iterator[LocalRuntime]:
    runtime = LocalRuntime(settings, services=services)
    yield runtime
    runtime.broker.stop()


@pytest.fixture
def index_front_photo(services: Services) -> Callable[..., int]:
    """Indexes (or re-indexes) a product's front photo with the given features in this test's tenant; returns its id."""
    tenant = services.settings.tenant

    def index(sku: str, features: LocalFeatures, sha256: str = "") -> int:
        with services.db.transaction() as conn:
            image_id = upsert_product_image(conn, tenant, sku, f"products/{sku}/front.jpg", sha256 or f"sha-{sku}", 300, 300)
            put_local_features(conn, tenant, "product_image", image_id, "sift", len(features), to_bytes(features))
            advance_catalog_generation(conn, tenant, [image_id])  # as the features step does
        return image_id

    return index


@pytest.fixture(scope="session")
def _span_memory():
    """An SDK tracer provider for the whole session, recording into memory (OTel allows one global provider)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def span_exporter(_span_memory):
    """The in-memory exporter every finished span reaches, emptied for this test."""
    _span_memory.clear()
    yield _span_memory
    _span_memory.clear()
