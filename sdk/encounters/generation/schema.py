"""The JSON Schema an LLM is asked to fill, derived from :class:`EncounterSpec`.

Providers' structured-output modes accept a subset of JSON Schema, and OpenAI's strict
mode wants every property required and no unknown keywords. So the schema sent to a
model is the encounter schema with the fields we set ourselves removed (``id``,
``template_id``, ``generator``), every property required (optional ones made nullable),
``additionalProperties: false`` everywhere and only widely supported keywords kept.
Bounds and patterns that are dropped here are still enforced: the reply is validated
against the full model, and a reply that fails is sent back once with the errors.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from ..models import EncounterSpec

#: Fields the engine fills in, never the model.
SERVER_FIELDS = ("id", "template_id", "generator")
_KEEP = {
    "type", "properties", "required", "additionalProperties", "items", "enum", "anyOf",
    "$ref", "$defs", "description", "const",
}  # fmt: skip


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items() if k in _KEEP and k != "$defs"}
    if "$defs" in node:  # a map of names to schemas, not a schema itself
        out["$defs"] = {name: _strict(sub) for name, sub in node["$defs"].items()}
    if "properties" in node:
        out["properties"] = {k: _strict(v) for k, v in node["properties"].items()}
        required = set(node.get("required", []))
        for name, prop in out["properties"].items():
            if name not in required and not _nullable(prop):
                out["properties"][name] = {"anyOf": [prop, {"type": "null"}]}
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


def _nullable(prop: dict[str, Any]) -> bool:
    return prop.get("type") == "null" or any(
        isinstance(o, dict) and o.get("type") == "null" for o in prop.get("anyOf", [])
    )


@lru_cache(maxsize=1)
def _encounter_schema() -> dict[str, Any]:
    schema = EncounterSpec.model_json_schema()
    for name in SERVER_FIELDS:
        schema["properties"].pop(name, None)
        if name in schema.get("required", []):
            schema["required"].remove(name)
    result: dict[str, Any] = _strict(schema)
    return result


def encounter_schema() -> dict[str, Any]:
    """A fresh copy of the schema sent to models for an encounter."""
    return copy.deepcopy(_encounter_schema())


def drop_nulls(value: Any) -> Any:
    """Remove ``null`` members of objects: a strict-mode model writes ``null`` for an
    optional field it does not use, which means "take the default"."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value
