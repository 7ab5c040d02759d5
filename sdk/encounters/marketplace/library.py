"""Putting installed content into an engine's library: encounters and campaigns into
its store, templates into its template library (and store), personas (with what
their card carried) as ``persona`` documents in its store.

Every item was checked against its hash before it gets here, and is validated again
by the engine as it is saved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cards import PersonaPackage
from .content import content_id
from .models import InstallItem

if TYPE_CHECKING:
    from ..engine import Engine

PERSONA_KIND = "persona"


async def install_into(engine: Engine, items: list[InstallItem]) -> list[str]:
    """Save ``items`` in ``engine``'s library, in order; ``["encounter:<id>", ...]``."""
    done: list[str] = []
    for item in items:
        if item.kind == "encounter":
            await engine.save_encounter(item.content)
        elif item.kind == "template":
            await engine.publish_template(item.content)
        elif item.kind == "campaign":
            await engine.campaigns.save_campaign(item.content)
        else:
            package = PersonaPackage.model_validate(item.content)
            await engine.store.save_document(PERSONA_KIND, package.persona.id, package)
        done.append(f"{item.kind}:{content_id(item.kind, item.content)}")
    return done
