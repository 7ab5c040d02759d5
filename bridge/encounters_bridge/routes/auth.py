"""Who is calling: the dependencies every route names. ``Caller`` is any valid
control-API key, ``Admin`` an admin key. The key store is the app's
(``app.state.store``), set by :func:`encounters_bridge.control.create_app`.

(No ``from __future__ import annotations``: FastAPI reads these annotations.)
"""

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from encounters.models.bridge import ApiKey

from ..keys import check_api_key


async def caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> ApiKey:
    """The caller's key record; 401 without a valid key."""
    key = authorization.removeprefix("Bearer ").strip() if authorization else ""
    record = await check_api_key(request.app.state.store, key) if key else None
    if record is None:
        raise HTTPException(401, "a valid API key is needed: Authorization: Bearer <key>")
    return record


async def admin(key: Annotated[ApiKey, Depends(caller)]) -> ApiKey:
    """The caller's key record when it is an admin key; 403 otherwise."""
    if key.role != "admin":
        raise HTTPException(403, "this needs an admin key")
    return key


Caller = Annotated[ApiKey, Depends(caller)]
Admin = Annotated[ApiKey, Depends(admin)]
CALLER = [Depends(caller)]
ADMIN = [Depends(admin)]


def may_see(key: ApiKey, creator_id: str) -> None:
    """403 unless ``key`` is an admin's or the creator's own."""
    if key.role != "admin" and key.id != creator_id:
        raise HTTPException(403, "only the persona's creator or an admin may do this")
