"""A rematch applies the settings as they are now to every video matched before."""

from __future__ import annotations

import threading
import time

import psycopg
from resultkit import appearance_rows

from deeplens.cli.ingest import ingest_folder
from deeplens.db.local_features import announce_photos_again, claim_waiting_photos
from deeplens.pipeline import match
from deeplens.runtime import LocalRuntime
from eventing import types
from eventing.events import Event


def frame_match_count(runtime: LocalRuntime) -> int:
    with runtime.services.db.pool.connection() as conn:
        row = conn.execute("SELECT count(*) AS n FROM frame_matches WHERE tenant_id = %s", (runtime.settings.tenant,)).fetchone()
    return row["n"]


def undecided_keyframes(runtime: LocalRuntime) -> int:
    """Keyframes whose last decision's inputs are forgotten (to be decided again)."""
    with runtime.services.db.pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM frames WHERE tenant_id = %s AND decided_candidates IS NULL", (runtime.settings.tenant,)
        ).fetchone()
    return row["n"]


def rematched(runtime: LocalRuntime, runtime_with, *, decide: bool = True, **changes) -> tuple[list[tuple], int]:
    """Appearances and keyframe matches after a rematch run with ``changes`` to the settings."""
    settings = runtime.settings.model_copy(update=changes)
    with runtime_with(settings) as changed:
        request = types.RematchRequested(decide=decide).model_dump()
        changed.broker.publish(Event(type=types.REMATCH_REQUESTED, source="test", data=request, tenant=settings.tenant))
        assert changed.broker.run_until_idle(tenant=settings.tenant, timeout=300)
        assert changed.queue.dead_letters(settings.tenant) == []
        return appearance_rows(changed), frame_match_count(changed)


def test_a_threshold_above_every_score_applied_by_a_rematch_leaves_nothing_and_the_old_one_brings_every_appearance_back(
    runtime, tiny_dataset, runtime_with
):
    assert ingest_folder(runtime, tiny_dataset, wait=True, timeout=300)
    before = appearance_rows(runtime)
    assert before
    assert rematched(runtime, runtime_with, match_threshold=0.999) == ([], 0)
    assert rematched(runtime, runtime_with)[0] == before


def test_an_appearance_setting_applied_by_a_rematch_rolls_every_appearance_up_again(runtime, tiny_dataset, runtime_with):
    assert ingest_folder(runtime, tiny_dataset, wait=True, timeout=300)
    before, matches = appearance_rows(runtime), frame_match_count(runtime)
    assert before and matches
    # No appearance has 99 verified frames, and no score reaches 1: every one is unconfirmed, the keyframe matches stay.
    assert rematched(runtime, runtime_with, appearance_min_frames=99, appearance_strong_score=1.0) == ([], matches)
    assert rematched(runtime, runtime_with) == (before, matches)


def test_an_appearances_only_rematch_rolls_every_appearance_up_again_without_deciding_a_keyframe_again(runtime, tiny_dataset, runtime_with):
    assert ingest_folder(runtime, tiny_dataset, wait=True, timeout=300)
    before, matches = appearance_rows(runtime), frame_match_count(runtime)
    assert before and undecided_keyframes(runtime) == 0
    unconfirmed = {"appearance_min_frames": 99, "appearance_strong_score": 1.0}
    assert rematched(runtime, runtime_with, decide=False, **unconfirmed) == ([], matches)
    assert undecided_keyframes(runtime) == 0
    assert rematched(runtime, runtime_with, decide=False) == (before, matches)


def test_a_threshold_raised_above_every_score_applied_by_an_appearances_only_rematch_leaves_no_appearance(
    runtime, tiny_dataset, runtime_with
):
    assert ingest_folder(runtime, tiny_dataset, wait=True, timeout=300)
    matches = frame_match_count(runtime)
    assert rematched(runtime, runtime_with, decide=False, match_threshold=0.999) == ([], matches)


def test_a_rematch_longer_than_one_call_goes_on_in_follow_up_events_and_rolls_up_every_pair(runtime, tiny_dataset, runtime_with):
    assert ingest_folder(runtime, tiny_dataset, wait=True, timeout=300)
    pairs = {(video, product) for video, product, *_ in appearance_rows(runtime)}
    assert len(pairs) > 1
    unconfirmed = {"appearance_min_frames": 99, "appearance_strong_score": 1.0}
    assert rematched(runtime, runtime_with, rematch_pairs=1, **unconfirmed)[0] == []
    with runtime.services.db.pool.connection() as conn:
        calls = conn.execute(
            "SELECT count(*) AS n FROM deliveries WHERE tenant_id = %s AND subscriber = 'match' AND event->>'type' = %s",
            (runtime.settings.tenant, types.REMATCH_REQUESTED),
        ).fetchone()["n"]
    assert calls == len(pairs)


def test_a_rematch_of_a_tenant_with_nothing_indexed_does_nothing(runtime, runtime_with):
    assert rematched(runtime, runtime_with) == ([], 0)


def test_a_rematch_waits_for_a_running_pass_without_holding_up_the_decisions_that_pass_makes(runtime, tiny_dataset, database_url):
    assert ingest_folder(runtime, tiny_dataset, wait=True, timeout=300)
    tenant, db = runtime.settings.tenant, runtime.services.db
    with db.transaction() as conn:
        announce_photos_again(conn, tenant)
    request = Event(type=types.REMATCH_REQUESTED, source="test", data={}, tenant=tenant)
    with db.transaction() as claim:
        assert claim_waiting_photos(claim, tenant)  # a pass holds its photos' rows until it ends
        rematch = threading.Thread(target=match.handle, args=(request, runtime.services))
        rematch.start()
        with psycopg.connect(database_url, autocommit=True) as watcher:
            deadline = time.monotonic() + 30
            while not watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'").fetchone()[0]:
                assert time.monotonic() < deadline, "the rematch never waited for the pass's photos"
                time.sleep(0.05)
            # Meanwhile the pass decides a keyframe, in a connection of its own, as decisions.decide does.
            watcher.execute("SET lock_timeout = '5s'")
            watcher.execute("UPDATE frames SET decided_rivals = decided_rivals WHERE tenant_id = %s", (tenant,))
    rematch.join(timeout=120)
    assert not rematch.is_alive()
