"""Render a template with parameters into a validated :class:`EncounterSpec`.

Parameters are untrusted (they may come from players or an HTTP API), so rendering:

- checks each value against its declared type and bounds and reports every missing,
  unknown or out-of-range parameter by name in one :class:`TemplateParameterError`;
- strips control characters from strings and cuts them to the parameter's
  ``max_length``;
- substitutes in one pass, so a value is never itself expanded, and refuses values
  that contain ``{{`` or ``}}`` as well as templates whose text holds nested or
  malformed placeholders.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from ..errors import FieldError, TemplateError, TemplateParameterError, ValidationFailed
from ..models import EncounterSpec
from ..models.common import new_id
from ..validation import validate_model
from .model import DIFFICULTY_OF_LABEL, PLACEHOLDER, EncounterTemplate, ParamType, TemplateParameter

Value = str | int | float | bool
_BRACES = re.compile(r"\{\{|\}\}")
#: Raw text looked at per string value; values are capped at 500 characters anyway.
_MAX_RAW = 8192


def clean_text(text: str, max_length: int) -> str:
    """Drop control and format characters (keeping ordinary spaces), fold runs of
    whitespace, and cut to ``max_length`` characters."""
    kept = "".join(
        " " if ch in "\t\n\r" else ch
        for ch in text
        if ch in "\t\n\r" or unicodedata.category(ch)[0] != "C"
    )
    return " ".join(kept.split())[:max_length]


def placeholders_in(value: Any) -> set[str]:
    """Every parameter name referenced anywhere in a structure."""
    found: set[str] = set()
    if isinstance(value, str):
        found.update(PLACEHOLDER.findall(value))
    elif isinstance(value, dict):
        for v in value.values():
            found |= placeholders_in(v)
    elif isinstance(value, list):
        for v in value:
            found |= placeholders_in(v)
    return found


def check_template(template: EncounterTemplate) -> None:
    """Refuse templates with malformed or nested placeholders, placeholders that name
    no declared parameter, and defaults that break their own bounds."""
    problems: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, str):
            leftover = PLACEHOLDER.sub("", value)
            if _BRACES.search(leftover):
                problems.append(f"structure.{path}: malformed or nested placeholder in {value!r}")
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")

    walk(template.structure, "")
    for name in sorted(placeholders_in(template.structure) - set(template.parameters)):
        problems.append(f"structure: placeholder {{{{{name}}}}} has no declared parameter")
    for name, param in template.parameters.items():
        if param.default is not None:
            try:
                _coerce(name, param, param.default)
            except ValueError as exc:
                problems.append(f"parameters.{name}.default: {exc}")
    if not problems:
        try:
            render(template, sample_parameters(template))
        except (ValidationFailed, TemplateError) as exc:
            detail = exc.errors if isinstance(exc, ValidationFailed) else [str(exc)]
            problems += [f"does not render with sample parameters: {e}" for e in detail]
    if problems:
        raise TemplateError(f"template {template.id!r} is invalid:\n  " + "\n  ".join(problems))


def sample_parameters(template: EncounterTemplate) -> dict[str, object]:
    """A value for every required parameter (the lowest allowed number, the first
    choice, a short word), so a template can be test-rendered."""
    samples: dict[str, object] = {}
    for name, p in template.parameters.items():
        if not p.required:
            continue
        if p.type is ParamType.ENUM:
            samples[name] = p.choices[0]
        elif p.type is ParamType.BOOL:
            samples[name] = True
        elif p.type in (ParamType.INT, ParamType.FLOAT):
            low = p.min if p.min is not None else min(1.0, p.max if p.max is not None else 1.0)
            samples[name] = math.ceil(low) if p.type is ParamType.INT else float(low)
        else:
            samples[name] = "sample"
    return samples


def _coerce(name: str, param: TemplateParameter, raw: object) -> Value:
    """Turn a raw value (JSON value or CLI text) into the parameter's type, or raise
    ValueError with a short reason."""
    t = param.type
    if t is ParamType.BOOL:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false", "yes", "no", "1", "0"):
            return raw.strip().lower() in ("true", "yes", "1")
        raise ValueError("must be true or false")
    if t in (ParamType.INT, ParamType.FLOAT):
        number: float | int
        if isinstance(raw, bool):
            raise ValueError(f"must be {'a whole number' if t is ParamType.INT else 'a number'}")
        if isinstance(raw, int | float):
            number = raw
        elif isinstance(raw, str):
            try:
                number = int(raw.strip()) if t is ParamType.INT else float(raw.strip())
            except ValueError:
                kind = "a whole number" if t is ParamType.INT else "a number"
                raise ValueError(f"must be {kind}, got {raw[:40]!r}") from None
        else:
            raise ValueError("must be a number")
        if isinstance(number, float) and not math.isfinite(number):
            raise ValueError("must be a finite number")
        if t is ParamType.INT:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError("must be a whole number")
            number = int(number)
        else:
            try:
                number = float(number)
            except OverflowError:
                raise ValueError("is too large") from None
        if param.min is not None and number < param.min:
            raise ValueError(f"must be >= {_fmt(param.min)}")
        if param.max is not None and number > param.max:
            raise ValueError(f"must be <= {_fmt(param.max)}")
        return number
    if not isinstance(raw, str):
        raise ValueError("must be text")
    # Clean first, so braces split by invisible characters ("{\u200b{x}}") are caught.
    text = clean_text(raw[:_MAX_RAW], _MAX_RAW)
    if _BRACES.search(text):
        raise ValueError("must not contain '{{' or '}}'")
    if t is ParamType.ENUM:
        if text not in param.choices:
            raise ValueError(f"must be one of {', '.join(param.choices)}")
        return text
    text = text[: param.max_length].rstrip()
    if not text:
        raise ValueError("must not be empty")
    return text


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def resolve_parameters(
    template: EncounterTemplate, params: Mapping[str, object]
) -> dict[str, Value]:
    """Check and type every parameter, filling defaults. Raises
    :class:`TemplateParameterError` naming each bad parameter."""
    errors: list[FieldError] = []
    values: dict[str, Value] = {}
    for name in params:
        if name not in template.parameters:
            known = ", ".join(template.parameters) or "(none)"
            errors.append(FieldError(name, f"unknown parameter; this template takes: {known}"))
    for name, param in template.parameters.items():
        if name in params and params[name] is not None:
            try:
                values[name] = _coerce(name, param, params[name])
            except ValueError as exc:
                errors.append(FieldError(name, str(exc)))
        elif param.default is not None:
            values[name] = _coerce(name, param, param.default)
        elif param.required:
            errors.append(FieldError(name, f"required ({param.type.value})"))
    if errors:
        raise TemplateParameterError(template.id, errors)
    return values


def _substitute(value: Any, values: dict[str, Value]) -> Any:
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole:
            return values.get(whole.group(1))
        return PLACEHOLDER.sub(lambda m: _as_text(values.get(m.group(1))), value)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            sub = _substitute(v, values)
            if sub is not None:  # an unset optional parameter leaves the field at its default
                out[k] = sub
        return out
    if isinstance(value, list):
        return [s for s in (_substitute(v, values) for v in value) if s is not None]
    return value


def _as_text(value: Value | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return _fmt(round(value, 2))
    return str(value)


def render(
    template: EncounterTemplate,
    params: Mapping[str, object] | None = None,
    *,
    difficulty: float | None = None,
    encounter_id: str | None = None,
    language: str | None = None,
) -> EncounterSpec:
    """Render ``template`` into a validated encounter.

    The encounter's difficulty is, from weakest to strongest: the template's label
    (easy 0.3, medium 0.5, hard 0.8), a ``difficulty`` key in the structure, and the
    ``difficulty`` argument.
    """
    values = resolve_parameters(template, dict(params or {}))
    body: dict[str, Any] = {
        "category": template.category.value,
        "difficulty": DIFFICULTY_OF_LABEL[template.difficulty],
        "estimated_duration": template.estimated_duration,
        "description": template.description,
        "tags": list(template.tags),
    }
    body.update(_substitute(template.structure, values))
    if difficulty is not None:
        body["difficulty"] = difficulty
    body["id"] = encounter_id or new_id("enc")
    body["template_id"] = template.id
    body["generator"] = "template"
    if language:
        body["language"] = language
    return validate_model(EncounterSpec, body, f"encounter rendered from template {template.id!r}")
