"""What a user reads of a tenant's results, for tests that compare runs."""

from __future__ import annotations

from deeplens.results import Results
from deeplens.runtime import LocalRuntime


def appearance_rows(runtime: LocalRuntime) -> list[tuple]:
    """Each appearance as video, product, interval, box and score: comparable across tenants (no ids)."""
    items = Results(runtime.services.db, runtime.settings.tenant).all_appearances()
    return [(a.video, a.product, a.start, a.end, tuple(a.box), a.score) for a in items]
