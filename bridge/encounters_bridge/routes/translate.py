"""Translation of encounters and templates (``POST /translate``) through the engine's
LLM router, for API keys (admin or creator). What goes in and what comes out are
screened like published content: a translation a model made offensive is refused
(422), never returned. Ids, targets, names and placeholders are kept; see
:mod:`encounters.i18n.translate` for what is checked.

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field, model_validator

from encounters.engine import Engine
from encounters.generation.router import ProviderManager
from encounters.models.common import LANGUAGE_PATTERN
from encounters.models.encounter import EncounterSpec
from encounters.moderation.published import screen
from encounters.templates.library import template_from_data
from encounters.templates.model import EncounterTemplate
from encounters.validation import validate_model

from .auth import Caller
from .schemas import ERRORS, _error


class TranslateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: the target language, BCP 47 (es, pt-BR, de-AT)
    language: str = Field(pattern=LANGUAGE_PATTERN, max_length=35)
    encounter: dict[str, Any] | None = None
    template: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one(self) -> "TranslateRequest":
        if (self.encounter is None) == (self.template is None):
            raise ValueError("give exactly one of encounter or template")
        return self


class Translated(BaseModel):
    language: str
    encounter: dict[str, Any] | None = None
    template: dict[str, Any] | None = None


def router(engine: Engine) -> APIRouter:
    api = APIRouter(
        tags=["translate"],
        responses={
            **ERRORS,
            502: _error("The model's translation broke ids, placeholders or the language twice"),
            503: _error("No LLM provider is configured for this daemon"),
        },
    )

    def needs_llm() -> None:
        """Checked after the body: bad input is a 422 whether or not an LLM is set."""
        if not isinstance(engine.generator, ProviderManager):
            raise HTTPException(
                503,
                "translation needs an LLM provider: configure one "
                "(LLM_PRIMARY_PROVIDER and its key) for this daemon",
            )

    @api.post("/translate")
    async def translate(body: TranslateRequest, key: Caller) -> Translated:
        if body.encounter is not None:
            screen(engine.moderator, body.encounter, "encounter")
            spec = validate_model(EncounterSpec, body.encounter, "encounter")
            needs_llm()
            done = (await engine.translate_encounter(spec, body.language)).model_dump(mode="json")
            screen(engine.moderator, done, "translation")
            return Translated(language=done["language"], encounter=done)
        assert body.template is not None
        screen(engine.moderator, body.template, "template")
        validate_model(EncounterTemplate, body.template, "template")  # one line per field
        template = template_from_data(body.template, "template")
        needs_llm()
        out = await engine.translate_template(template, body.language)
        data = out.model_dump(mode="json")
        screen(engine.moderator, data, "translation")
        return Translated(language=body.language, template=data)

    return api
