"""Knative's delivery semantics (``DeliverySpec``): retries, backoff, dead letters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from deeplens.backoff import backoff_delay
from deeplens.config import Settings


@dataclass(frozen=True)
class DeliverySpec:
    """How often and how patiently an event is redelivered before it is dead-lettered.

    As in Knative, ``retry`` counts redeliveries after the first attempt, and the delay
    before retry ``n`` (1-based) is ``backoff_delay * 2**n`` (exponential) or
    ``backoff_delay * n`` (linear).
    """

    retry: int = 3
    backoff_policy: Literal["exponential", "linear"] = "exponential"
    backoff_delay: float = 0.5

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliverySpec:
        """The delivery spec the settings describe."""
        return cls(settings.retry, settings.backoff_policy, settings.backoff_delay)

    @property
    def max_attempts(self) -> int:
        """Deliveries in all: the first plus the retries."""
        return 1 + self.retry

    def delay(self, retry_number: int) -> float:
        """Seconds to wait before redelivery number ``retry_number`` (1-based)."""
        if self.backoff_policy == "exponential":
            return backoff_delay(retry_number, self.backoff_delay)
        return self.backoff_delay * retry_number
