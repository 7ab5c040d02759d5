"""What each kind of listing holds, how it is checked, and its content hash.

Content is validated with the validator of its kind (the same ones the engine and the
control API use) and stored in its canonical form (the model dumped as JSON), so the
hash does not depend on key order or on defaults left out. The hash is SHA-256 over
that JSON with sorted keys and no spaces: ``sha256:<hex>``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..campaigns.parse import parse_campaign
from ..errors import EncountersError, FieldError, ValidationFailed
from ..models.encounter import EncounterSpec
from ..templates.library import template_from_data
from ..validation import validate_model
from .cards import PersonaPackage
from .errors import IntegrityFailed
from .models import MAX_CONTENT_BYTES, Kind


def canonical_json(content: Any) -> bytes:
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def content_hash(content: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(content)).hexdigest()


def validate_content(kind: Kind, content: Any) -> dict[str, Any]:
    """The canonical form of ``content`` as ``kind``; :class:`ValidationFailed` with
    paths under ``content`` otherwise. A persona is a :class:`PersonaPackage` (a bare
    persona is taken as its ``persona`` part)."""
    if not isinstance(content, dict):
        raise ValidationFailed(kind, [FieldError("content", "must be an object")])
    if len(canonical_json(content)) > MAX_CONTENT_BYTES:
        raise ValidationFailed(
            kind,
            [FieldError("content", f"is larger than {MAX_CONTENT_BYTES // 1000} kB; split it up")],
        )
    try:
        if kind == "encounter":
            return validate_model(EncounterSpec, content, "encounter").model_dump(mode="json")
        if kind == "template":
            return template_from_data(content, "content").model_dump(mode="json")
        if kind == "campaign":
            return parse_campaign(content).model_dump(mode="json")
        data = content if "persona" in content else {"persona": content}
        return validate_model(PersonaPackage, data, "persona").model_dump(mode="json")
    except ValidationFailed as exc:
        raise ValidationFailed(
            exc.what,
            [
                FieldError(f"content.{e.path}" if e.path else "content", e.message)
                for e in exc.errors
            ],
        ) from None
    except EncountersError as exc:  # template and campaign errors carry their paths in text
        raise ValidationFailed(kind, [FieldError("content", str(exc))]) from None


def content_id(kind: Kind, content: dict[str, Any]) -> str:
    """The id the content is stored under when installed."""
    part = content["persona"] if kind == "persona" else content
    return str(part["id"])


def campaign_encounters(content: dict[str, Any]) -> list[str]:
    return [str(step["encounter_id"]) for step in content.get("steps", [])]


def verify(kind: Kind, content: dict[str, Any], expected: str, where: str) -> None:
    """Raise :class:`IntegrityFailed` unless ``content`` hashes to ``expected``."""
    found = content_hash(content)
    if found != expected:
        raise IntegrityFailed(
            f"{where}: the {kind} content hashes to {found[:19]}..., not the published "
            f"{expected[:19]}...; it was changed after publishing, so it is not installed"
        )
