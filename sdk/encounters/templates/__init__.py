"""Encounter templates: model, renderer and the built-in library."""

from .library import TemplateLibrary, parse_template
from .model import EncounterTemplate, ParamType, TemplateParameter
from .render import render, resolve_parameters

__all__ = [
    "EncounterTemplate",
    "ParamType",
    "TemplateLibrary",
    "TemplateParameter",
    "parse_template",
    "render",
    "resolve_parameters",
]
