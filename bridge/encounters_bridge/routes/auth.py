"""Who is calling, and what each role may do: the one place roles are enforced.

:class:`encounters_bridge.gate.Gate` has authenticated the caller before the body is
read and put its key record in the request state (``principal``): a control-API key
(``admin`` or ``creator``) or a game server's world key. The dependencies here turn
that into a role check the routes name: ``Caller`` (an admin or creator key),
``Admin`` (an admin key), ``Player`` (an admin key or a game server's key: the
player-data routes). Ownership of what a caller publishes is in ``..tenancy``.

(No ``from __future__ import annotations``: FastAPI reads these annotations.)
"""

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..store.models import ApiKey, WorldKey

#: The security scheme OpenAPI shows; the gate has checked the key already.
bearer = HTTPBearer(auto_error=False, description="a control-API key or a world key")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
Principal = ApiKey | WorldKey


def principal_of(request: Request) -> Principal:
    """The caller the gate authenticated; 401 when there is none."""
    found = getattr(request.state, "principal", None)
    if not isinstance(found, ApiKey | WorldKey):
        raise HTTPException(401, "a valid API key is needed: Authorization: Bearer <key>")
    return found


async def anyone(request: Request, _: Bearer) -> Principal:
    """Any valid key: admin, creator or game server."""
    return principal_of(request)


async def caller(request: Request, _: Bearer) -> ApiKey:
    """An admin or creator key; 403 for a game server's key."""
    found = principal_of(request)
    if not isinstance(found, ApiKey):
        raise HTTPException(403, "a game server's key may use only the player-data routes")
    return found


async def admin(request: Request, _: Bearer) -> ApiKey:
    """An admin key; 403 otherwise."""
    found = principal_of(request)
    if not isinstance(found, ApiKey) or found.role != "admin":
        raise HTTPException(403, "this needs an admin key")
    return found


async def player(request: Request, _: Bearer) -> Principal:
    """An admin key or a game server's key (player data); 403 for a creator."""
    found = principal_of(request)
    if isinstance(found, ApiKey) and found.role != "admin":
        raise HTTPException(403, "player data needs a game server's key or an admin key")
    return found


Anyone = Annotated[Principal, Depends(anyone)]
Caller = Annotated[ApiKey, Depends(caller)]
Admin = Annotated[ApiKey, Depends(admin)]
Player = Annotated[Principal, Depends(player)]
CALLER = [Depends(caller)]
ADMIN = [Depends(admin)]


def may_see(key: ApiKey, creator_id: str) -> None:
    """403 unless ``key`` is an admin's or the creator's own."""
    if key.role != "admin" and key.id != creator_id:
        raise HTTPException(403, "only the persona's creator or an admin may do this")
