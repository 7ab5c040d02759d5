"""The persona screen without saving (creator or admin): what the studio's persona
editor shows as you type. It answers what submitting the persona now would meet: the
validation errors (each naming its field) and the moderation findings (which words,
which topic, and whether the persona would be rejected for them). Nothing is stored
or audited.

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel

from encounters.errors import ValidationFailed

from ..deployment import DeploymentService
from ..screening import Finding, screen
from .auth import Caller
from .schemas import ERRORS


class Screening(BaseModel):
    """``verdict``: what a submit would do now: ``invalid`` (see ``errors``),
    ``rejected`` (a finding blocks) or ``pending_moderation`` (it would wait for an
    admin's approval)."""

    verdict: Literal["invalid", "rejected", "pending_moderation"]
    errors: list[str]
    findings: list[Finding]


def router(service: DeploymentService) -> APIRouter:
    api = APIRouter(tags=["personas"], responses=ERRORS)

    @api.post("/personas/screen")
    async def screen_persona(body: dict[str, Any], key: Caller) -> Screening:
        try:
            persona = service.check(body, key.id)
        except ValidationFailed as exc:
            return Screening(verdict="invalid", errors=[str(e) for e in exc.errors], findings=[])
        findings = screen(service.moderator, persona)
        blocked = any(f.decision == "block" for f in findings)
        return Screening(verdict="rejected" if blocked else "pending_moderation", errors=[],
                         findings=findings)  # fmt: skip

    return api
