"""API keys of the caller's tenant, for its admins (the same as ``deeplens keys``, within one tenant)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter
from pydantic import BaseModel, Field

from deeplens.api.dependencies import Admin, RowId
from deeplens.api.errors import AUTH_RESPONSES, ErrorBody
from deeplens.auth.keys import ApiKey, ApiKeyStore
from deeplens.errors import NotFound

router = APIRouter(prefix="/keys", tags=["keys"], responses=AUTH_RESPONSES)


class KeyInfo(BaseModel):
    """A stored key, never its secret."""

    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class NewKey(BaseModel):
    """What a new key may do, and for how long."""

    scopes: list[str] = Field(..., min_length=1, description="Some of read, write, admin.")
    expires_in_days: int = Field(90, ge=1, le=3650)
    name: str = Field("", max_length=200)


class CreatedKey(KeyInfo):
    key: str
    """The key itself: shown in this answer only."""


def _info(key: ApiKey) -> dict:
    return {"id": key.id, "name": key.name, "prefix": key.prefix, "scopes": list(key.scopes),
            "created_at": key.created_at, "expires_at": key.expires_at, "revoked_at": key.revoked_at}


@router.get("", response_model=list[KeyInfo])
def list_keys(caller: Admin) -> list[KeyInfo]:
    """The tenant's API keys, revoked and expired ones included."""
    return [KeyInfo(**_info(k)) for k in ApiKeyStore(caller.services.db).list(caller.tenant)]


@router.post("", response_model=CreatedKey, status_code=201)
def create_key(caller: Admin, new: NewKey) -> CreatedKey:
    """A new API key of the caller's tenant; the answer is the only place its secret appears."""
    key, plaintext = ApiKeyStore(caller.services.db).create(caller.tenant, new.scopes, name=new.name,
                                                            expires_in=timedelta(days=new.expires_in_days))
    return CreatedKey(**_info(key), key=plaintext)


@router.delete("/{key_id}", status_code=204, responses={404: {"model": ErrorBody}})
def revoke_key(caller: Admin, key_id: RowId) -> None:
    """Revoke one of the tenant's keys at once."""
    if not ApiKeyStore(caller.services.db).revoke(key_id, tenant=caller.tenant):
        raise NotFound(f"no active API key {key_id}")
