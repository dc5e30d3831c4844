"""How a step declares that it takes several events of one type at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deeplens.pipeline.services import Services
from eventing.events import Event


@dataclass(frozen=True)
class Batched:
    """A step's two halves for a batch: ``prepare`` does each event's own work (and may refuse
    it as bad input); ``store`` writes what the prepared ones give, in one transaction, and
    returns each one's output events, in order.

    A step module lists them in ``BATCHED`` (event type → ``Batched``); the runner calls them
    for a batch the broker claimed of a route that batches (:mod:`eventing.routing`).
    """

    prepare: Callable[[Event, Services], Any]
    store: Callable[[list[Any], Services], list[list[Event]]]
