"""The service itself: liveness and readiness, public (they tell nothing of any tenant)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from deeplens import __version__
from deeplens.api.dependencies import State
from deeplens.api.errors import ErrorBody

router = APIRouter(tags=["service"])

READY_PROBE_KEY = ".deeplens-ready-probe"
"""Readiness asks the store about a key no upload has: an answer (absent) proves the store is reachable."""


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness: the process serves requests."""
    return {"status": "ok", "version": __version__}


@router.get("/ready", responses={503: {"model": ErrorBody, "description": "the database or the store is unreachable"}})
def ready(state: State) -> JSONResponse:
    """Readiness: the database and the object store answer."""
    services = state.services
    try:
        services.db.ping(timeout=5)
    except Exception as exc:  # noqa: BLE001 - any failure to reach it means: send no traffic here yet
        return JSONResponse(status_code=503, content={"error": "database_unreachable", "detail": type(exc).__name__})
    try:
        services.store.head(READY_PROBE_KEY)
    except Exception as exc:  # noqa: BLE001 - as above, for the store
        return JSONResponse(status_code=503, content={"error": "store_unreachable", "detail": type(exc).__name__})
    return JSONResponse({"status": "ready"})
