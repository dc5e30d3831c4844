"""Operations: failures and status of uploads; with a delivery queue, dead letters, replay, rematch, queue counts."""

from __future__ import annotations

from fastapi import APIRouter

from deeplens.api.dependencies import Admin, PageParams, PathName, Queue, Reader, Writer
from deeplens.api.errors import AUTH_RESPONSES, ErrorBody
from deeplens.errors import NotFound
from deeplens.rematch import request_rematch
from deeplens.results import ObjectStatus, Page
from eventing.queue import DeadLetter

router = APIRouter(tags=["operations"], responses=AUTH_RESPONSES)
queue_router = APIRouter(tags=["operations"], responses=AUTH_RESPONSES)
"""The routes that need the process's delivery queue (included only with one)."""


@router.get("/failures", response_model=Page)
def list_failures(caller: Reader, page: PageParams) -> Page:
    """Uploads a step could not process, and why."""
    return caller.results.failures(limit=page.limit, offset=page.offset)


@router.get("/status", response_model=Page)
def statuses(caller: Reader, page: PageParams) -> Page:
    """Processing status of every uploaded object."""
    return caller.results.statuses(limit=page.limit, offset=page.offset)


@router.get("/status/{key:path}", response_model=ObjectStatus, responses={404: {"model": ErrorBody}})
def status(caller: Reader, key: PathName) -> ObjectStatus:
    """Processing status of one uploaded object, by key."""
    found = caller.results.status(key)
    if found is None:
        raise NotFound(f"no uploaded object {key!r}")
    return found


@queue_router.get("/dead-letters", response_model=list[DeadLetter])
def dead_letters(caller: Admin, queue: Queue) -> list[DeadLetter]:
    """The caller's events that failed every retry and wait for replay."""
    return queue.dead_letters(caller.tenant)


@queue_router.post("/dead-letters/replay")
def replay(caller: Writer, queue: Queue, ids: list[int] | None = None) -> dict[str, int]:
    """Deliver the caller's dead letters again (all, or the given ids)."""
    return {"replayed": queue.replay(caller.tenant, ids, republish=caller.state.republish)}


@queue_router.post("/rematch", status_code=202,
                   responses={409: {"model": ErrorBody, "description": "a rematch of the tenant is already pending"}})
def rematch(caller: Writer, queue: Queue, appearances_only: bool = False) -> dict[str, str]:
    """Decide every keyframe and roll up every appearance again with the match step's
    settings as they are now (after changing a matching or appearance setting);
    ``appearances_only`` rolls up only, enough for appearance settings and a raised threshold.
    One rematch per tenant at a time: another while one is pending is a 409 ``rematch_pending``."""
    request = request_rematch(caller.services.settings, queue, caller.tenant, decide=not appearances_only)
    return {"requested": request.id}


@queue_router.get("/queue")
def queue_counts(caller: Reader, queue: Queue) -> dict[str, int]:
    """The caller's deliveries per status."""
    return queue.counts(caller.tenant)
