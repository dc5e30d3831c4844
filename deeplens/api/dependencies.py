"""What a route depends on: the service's shared state, the caller's tenant, a page.

The app holds one :class:`ServiceState` (``app.state.deeplens``); each request gets a
:class:`Tenancy` of the authenticated caller's tenant over it — the tenant comes from the
credential, never from a request parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from deeplens.auth import ADMIN, READ, WRITE, Authenticator, Principal
from deeplens.pipeline.services import Services
from deeplens.results import Results
from deeplens.search import SearchEngine
from deeplens.search.engine import MAX_WINDOW
from eventing.http import BrokerPublisher
from eventing.queue import DeliveryQueue

MAX_LIMIT = 500
# Row ids are bigserial; a larger number could never name a row, and PostgreSQL refuses it.
MAX_ROW_ID = 2**63 - 1
MAX_OFFSET = 10**12
MAX_NAME = 1024


@dataclass(frozen=True)
class ServiceState:
    """What every request shares: the process's services, queue, authenticator and search engine."""

    services: Services
    queue: DeliveryQueue | None
    auth: Authenticator
    engine: SearchEngine
    republish: BrokerPublisher | None
    """In the cluster the Broker delivers, so a replayed dead letter goes back through it."""


def service_state(request: Request) -> ServiceState:
    """The app's shared state."""
    return request.app.state.deeplens


State = Annotated[ServiceState, Depends(service_state)]

def delivery_queue(state: State) -> DeliveryQueue:
    """The process's delivery queue (the routes that need one are included only with one)."""
    if state.queue is None:
        raise RuntimeError("this results service runs without a delivery queue")
    return state.queue


Queue = Annotated[DeliveryQueue, Depends(delivery_queue)]

_bearer = HTTPBearer(auto_error=False, description="A JWT from the identity provider, or an API key (`dlk_…`).")


def principal(
    scopes: SecurityScopes,
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The authenticated caller, holding every scope the route asks for (401 / 403 otherwise)."""
    found = state.auth.authenticate(credentials.credentials if credentials is not None else None)
    for scope in scopes.scopes:
        found.require(scope)
    return found


@dataclass(frozen=True)
class Tenancy:
    """One request's view of the service: the caller and the queries of the caller's tenant."""

    principal: Principal
    state: ServiceState
    results: Results
    search: SearchEngine

    @property
    def tenant(self) -> str:
        """The caller's tenant."""
        return self.principal.tenant

    @property
    def services(self) -> Services:
        return self.state.services


def tenancy(state: State, caller: Annotated[Principal, Depends(principal)]) -> Tenancy:
    """The caller's tenancy (the scopes come from the route: ``Security(tenancy, scopes=[...])``)."""
    return Tenancy(principal=caller, state=state, results=Results(state.services.db, caller.tenant),
                   search=state.engine.for_tenant(caller.tenant))


Reader = Annotated[Tenancy, Security(tenancy, scopes=[READ])]
"""A caller with the ``read`` scope."""
Writer = Annotated[Tenancy, Security(tenancy, scopes=[WRITE])]
"""A caller with the ``write`` scope."""
Admin = Annotated[Tenancy, Security(tenancy, scopes=[ADMIN])]
"""A caller with the ``admin`` scope."""


@dataclass(frozen=True)
class Pagination:
    """Which page of a listing: ``limit`` rows after ``offset``."""

    limit: int
    offset: int


def pagination(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page.")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows skipped.")] = 0,
) -> Pagination:
    """The page a listing asks for."""
    return Pagination(limit=limit, offset=offset)


PageParams = Annotated[Pagination, Depends(pagination)]

# Query parameters of the searches: pages of hits within the window an HNSW scan can reach.
HitLimit = Annotated[int, Query(ge=1, le=100, description="Hits per page.")]
HitOffset = Annotated[int, Query(ge=0, le=MAX_WINDOW, description="Hits skipped.")]
MinScore = Annotated[float | None, Query(ge=-1.0, le=1.0, description="Lowest cosine similarity listed.")]

# Identifiers in paths and filters: bounded, so no request makes the database refuse a value.
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="Id of the item.")]
PathName = Annotated[str, Path(min_length=1, max_length=MAX_NAME)]
VideoFilter = Annotated[str | None, Query(max_length=MAX_NAME, description="Only this video (id).")]
ProductFilter = Annotated[str | None, Query(max_length=MAX_NAME, description="Only this product (sku).")]
ModelChoice = Annotated[str | None, Query(max_length=MAX_NAME, description="Model whose vectors to search; default DEEPLENS_MODEL.")]
