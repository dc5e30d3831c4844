"""The same uploads give exactly the same appearances whatever the workers and the timing:
one dataset run by one worker as it comes, and by four workers with every step and every
commit delayed at random, so deliveries interleave and commit in other orders."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager

import pytest

from deeplens.cli.ingest import ingest_folder
from deeplens.config import Settings
from deeplens.db import Database
from deeplens.pipeline.runner import StepRunner
from deeplens.results import Results

# Up to this long before a step runs and before a transaction commits.
MAX_DELAY_SECONDS = 0.05


class RandomDelays:
    """Sleeps a random time up to ``MAX_DELAY_SECONDS``; seeded, safe across worker threads,
    and counted by what was delayed (``"step"`` or ``"commit"``)."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def __call__(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1
            seconds = self._random.uniform(0, MAX_DELAY_SECONDS)
        time.sleep(seconds)


@pytest.fixture
def delayed(monkeypatch) -> RandomDelays:
    """Delays every step and every commit from now on; counts them."""
    delay = RandomDelays(seed=7)
    # Every event a step handles passes through _run_one, alone or in a batch.
    run_one, transaction = StepRunner._run_one, Database.transaction

    def delayed_run_one(self, step, event, handle, **kwargs):
        delay("step")
        return run_one(self, step, event, handle, **kwargs)

    @contextmanager
    def delayed_transaction(self):
        with transaction(self) as conn:
            yield conn
            delay("commit")  # the work is done; its commit comes late

    monkeypatch.setattr(StepRunner, "_run_one", delayed_run_one)
    monkeypatch.setattr(Database, "transaction", delayed_transaction)
    return delay


def appearances(runtime_with, database_url, tmp_path, dataset, *, workers: int) -> list[tuple]:
    """Every field of every appearance the dataset gives with ``workers`` workers (ids aside: they name rows)."""
    settings = Settings(home=tmp_path / f"home-{workers}-{uuid.uuid4().hex[:6]}", database_url=database_url,
                        tenant=f"timing-{uuid.uuid4().hex[:8]}", backoff_delay=0.01, workers=workers)
    with runtime_with(settings) as runtime:
        assert ingest_folder(runtime, dataset, wait=True, timeout=600)
        found = Results(runtime.services.db, settings.tenant).all_appearances()
    return sorted((a.video, a.product, a.start, a.end, a.score, a.frames, tuple(a.box)) for a in found)


def test_four_delayed_workers_find_exactly_what_one_worker_finds(runtime_with, database_url, tmp_path, tiny_dataset, request):
    alone = appearances(runtime_with, database_url, tmp_path, tiny_dataset, workers=1)
    delays = request.getfixturevalue("delayed")
    together = appearances(runtime_with, database_url, tmp_path, tiny_dataset, workers=4)
    uploads = sum(1 for path in tiny_dataset.rglob("*") if path.is_file() and path.name != "truth.json")
    # each upload is at least one step and one commit, and each of those was delayed
    assert delays.counts["step"] >= uploads and delays.counts["commit"] >= uploads
    assert alone and together == alone
