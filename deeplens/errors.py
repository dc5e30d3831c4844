"""The errors every layer shares.

A step raises :class:`BadInput` when the input itself is at fault (corrupt image,
truncated video, wrong type, malformed event): retrying cannot help, so the failure is
recorded where the API can show it and the event is acknowledged. Any other exception is
treated as transient and retried with backoff, then dead-lettered.
"""

from __future__ import annotations


class DeepLensError(Exception):
    """Base class of the errors DeepLens raises on purpose."""


class BadInput(DeepLensError):
    """The input cannot be processed, now or ever; ``reason`` is a short machine code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


class NotFound(DeepLensError):
    """A requested object, row or model does not exist."""


class DependencyMissing(DeepLensError):
    """A package or file this installation needs is missing (model weights, an optional
    package): a fault of the deployment, not of the request, and no retry mends it."""


class ObjectMissing(NotFound):
    """The bucket no longer holds an object an event names (deleted after it was announced).

    Raised by the object stores; a step treats it as bad input, since no redelivery can
    bring the object back.
    """


class Undeliverable(DeepLensError):
    """No redelivery can make this delivery succeed: the receiver does not take the event,
    or refused it for good. As Knative does with a 4xx answer, it is dead-lettered at once."""


class Unsupported(DeepLensError):
    """The request is valid but the chosen component cannot serve it (e.g. text search on an image-only model)."""


class CatalogChanged(DeepLensError):
    """A photo a decision saw was removed from the catalog meanwhile: the decision is not
    recorded, and the step, retried, decides with the catalog as it is now."""


class Conflict(DeepLensError):
    """The request clashes with work already under way (a quota); ``reason`` is a short machine code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
