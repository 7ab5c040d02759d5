"""Template files: an encounter skeleton with typed ``{{name}}`` parameters.

A template is a JSON file (see ``builtin/`` for the shipped library)::

    {
      "id": "combat-ambush", "name": "Ambush Encounter", "category": "combat",
      "description": "...", "difficulty": "medium", "estimated_duration": 15,
      "tags": ["combat"],
      "parameters": {
        "enemy_type":  {"type": "string", "required": true, "max_length": 40},
        "enemy_count": {"type": "int", "min": 1, "max": 50, "default": 5}
      },
      "structure": {
        "title": "Ambush!",
        "objectives": [{"id": "obj_1", "description": "Defeat {{enemy_count}} {{enemy_type}}",
                        "kind": "eliminate", "target": "{{enemy_type}}",
                        "quantity": "{{enemy_count}}"}]
      }
    }

``structure`` is a partial :class:`~encounters.models.EncounterSpec`. A string that is
exactly one placeholder takes the parameter's typed value (``"{{enemy_count}}"`` becomes
the int 5); a placeholder inside longer text is substituted as text.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..models.common import Category, Id

_NAME = r"[a-z_][a-z0-9_]{0,39}"
PLACEHOLDER = re.compile(r"\{\{(" + _NAME + r")\}\}")
PARAM_NAME = "^" + _NAME + "$"
#: The difficulty a template's label stands for when no ``difficulty`` parameter is set.
DIFFICULTY_OF_LABEL = {"easy": 0.3, "medium": 0.5, "hard": 0.8}


class ParamType(StrEnum):
    STRING = "string"
    INT = "int"
    FLOAT = "float"
    ENUM = "enum"
    BOOL = "bool"


class TemplateParameter(BaseModel):
    """One typed parameter. Strings are cleaned of control characters and cut to
    ``max_length``; numbers must lie in ``[min, max]``; enums must be one of ``choices``."""

    model_config = ConfigDict(extra="forbid")

    type: ParamType
    description: Annotated[str, Field(max_length=300)] = ""
    required: bool = False
    default: str | int | float | bool | None = None
    min: Annotated[float, Field(allow_inf_nan=False)] | None = None
    max: Annotated[float, Field(allow_inf_nan=False)] | None = None
    max_length: Annotated[int, Field(ge=1, le=500)] = 80
    choices: list[str] = []

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.type is ParamType.ENUM and not self.choices:
            raise ValueError("an enum parameter needs 'choices'")
        if self.type is not ParamType.ENUM and self.choices:
            raise ValueError("'choices' only applies to enum parameters")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("'min' is greater than 'max'")
        if self.required and self.default is not None:
            raise ValueError("a required parameter cannot have a default")
        return self


class EncounterTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Id
    name: Annotated[str, Field(min_length=1, max_length=120)]
    category: Category
    description: Annotated[str, Field(max_length=2000)] = ""
    difficulty: Literal["easy", "medium", "hard"] = "medium"
    estimated_duration: Annotated[int, Field(ge=1, le=600)] = 15
    tags: list[str] = []
    parameters: dict[Annotated[str, Field(pattern=PARAM_NAME)], TemplateParameter] = {}
    structure: dict[str, Any]

    @property
    def required_fields(self) -> list[str]:
        return [n for n, p in self.parameters.items() if p.required]

    @property
    def customizable_fields(self) -> list[str]:
        return list(self.parameters)
