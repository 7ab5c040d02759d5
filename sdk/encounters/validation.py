"""Turn pydantic errors into short, path-named lines (``objectives[2].quantity: must be
>= 1``) that a game developer can act on without reading a traceback."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from .errors import FieldError, ValidationFailed
from .models.actions import ACTION_ADAPTER, Action
from .models.common import PATTERN_HINTS

M = TypeVar("M", bound=BaseModel)


def format_path(loc: Sequence[int | str]) -> str:
    """``('objectives', 2, 'quantity')`` -> ``objectives[2].quantity``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}"
        else:
            out = str(part)
    return out


def _message(err: Any) -> str:
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown field (remove it or check its spelling)"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {
            "greater_than_equal": ">=",
            "greater_than": ">",
            "less_than_equal": "<=",
            "less_than": "<",
        }[kind]
        bound = next(iter(ctx.values()))
        return f"must be {op} {bound}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return f"must be at least {ctx.get('min_length')} character(s)"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} item(s)"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be a whole number"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return "must be a finite number"
    if kind in ("string_type",):
        return "must be a string"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if kind in ("list_type",):
        return "must be a list"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be an object"
    if kind == "enum":
        return f"must be one of {ctx.get('expected')}"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern"))
        return PATTERN_HINTS.get(pattern, f"does not match the pattern {pattern}")
    if kind == "union_tag_invalid":
        return f"unknown type {ctx.get('tag')!r}; known types: {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return f"required ('{ctx.get('discriminator', 'type').strip(chr(39))}' names the kind)"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    msg: str = err["msg"]
    return msg[0].lower() + msg[1:] if msg else kind


def field_errors(exc: PydanticValidationError) -> list[FieldError]:
    return [FieldError(format_path(e["loc"]), _message(e)) for e in exc.errors()]


def validate_model(model: type[M], data: Any, what: str | None = None) -> M:
    """Validate ``data`` into ``model`` or raise :class:`ValidationFailed` with one
    path-named line per problem."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationFailed(what or model.__name__, field_errors(exc)) from None


def validate_json(model: type[M], raw: str | bytes, what: str | None = None) -> M:
    """Like :func:`validate_model` for JSON text; malformed JSON is reported with its
    line and column, not a traceback."""
    try:
        return model.model_validate_json(raw)
    except PydanticValidationError as exc:
        errors = field_errors(exc)
        for e in exc.errors():
            if e["type"] == "json_invalid":
                errors = [FieldError("", f"malformed JSON: {e['ctx'].get('error', e['msg'])}")]
                break
        raise ValidationFailed(what or model.__name__, errors) from None


def validate_action(data: Any, what: str = "action") -> Action:
    """Validate one action dict (``{"type": "chat", ...}``). Paths leave out the type
    tag: ``x: must be a finite number``, not ``move_to.x: ...``."""
    try:
        return ACTION_ADAPTER.validate_python(data)
    except PydanticValidationError as exc:
        errors = []
        for e in exc.errors():
            loc = list(e["loc"])
            if loc and isinstance(data, dict) and loc[0] == data.get("type"):
                loc = loc[1:]
            path = format_path(loc)
            if e["type"] == "union_tag_not_found" or e["type"] == "union_tag_invalid":
                path = "type"
            errors.append(FieldError(path, _message(e)))
        raise ValidationFailed(what, errors) from None


def text_fields(data: Any, path: str = "") -> list[tuple[str, str]]:
    """Every string in parsed JSON with its field path (``objectives[0].description``);
    the keys of objects count too, at their object's path."""
    out: list[tuple[str, str]] = []
    if isinstance(data, str):
        out.append((path, data))
    elif isinstance(data, dict):
        for key, value in data.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(key, str):
                out.append((path or "body", key))
            out.extend(text_fields(value, child))
    elif isinstance(data, list | tuple):
        for i, value in enumerate(data):
            out.extend(text_fields(value, f"{path}[{i}]"))
    return out


def unsafe_character(text: str) -> str | None:
    """What makes ``text`` unsafe to store and relay to games, or None: a control
    character (a terminal escape, NUL; newlines and tabs are fine) or an invisible
    format character (bidi overrides, zero-width spaces; the emoji joiner is fine)."""
    if text.isprintable():  # no Cc, Cf, Cs or Zl/Zp character at all: the usual case
        return None
    for ch in text:
        if ch in "\t\n\r" or ch == "\u200d":
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cs"):
            return f"control character U+{ord(ch):04X} is not allowed; remove it"
        if cat == "Cf":
            return f"invisible format character U+{ord(ch):04X} is not allowed; remove it"
    return None


def unsafe_text_errors(data: Any, path: str = "") -> list[FieldError]:
    """One error per string field of ``data`` with an :func:`unsafe_character`."""
    found = ((p, unsafe_character(t)) for p, t in text_fields(data, path))
    return [FieldError(p or "body", why) for p, why in found if why is not None]
