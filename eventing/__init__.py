"""Events: CloudEvent types and schemas, the routing table, and the brokers that deliver by it."""

from eventing.events import Event
from eventing.routing import ROUTES, Route, subscribers_for

__all__ = ["ROUTES", "Event", "Route", "subscribers_for"]
