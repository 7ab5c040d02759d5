"""Campaign validation (:func:`parse_campaign`) with errors that name each bad field as
written in the campaign.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from ..errors import FieldError, ValidationFailed
from ..validation import field_errors, format_path
from .model import CampaignSpec
from .transformations import OPS

# -- validation --------------------------------------------------------------------------

_PATH_MESSAGE = re.compile(
    r"((?:\[\d+\]|[A-Za-z_]\w*)(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*): (.+)", re.DOTALL
)


def _join(path: str, rest: str) -> str:
    if not path:
        return rest
    return path + rest if rest.startswith("[") else f"{path}.{rest}"


def _without_op_tag(loc: Sequence[int | str]) -> list[int | str]:
    """Drop the union tag pydantic puts in a transformation's error location, so
    ``steps[1].transformations[0].add.value`` reads ``...transformations[0].value``."""
    out: list[int | str] = []
    for i, part in enumerate(loc):
        if (
            part in OPS
            and i >= 2
            and isinstance(loc[i - 1], int)
            and loc[i - 2] == "transformations"
        ):
            continue
        out.append(part)
    return out


def _located(exc: PydanticValidationError) -> list[FieldError]:
    """Field errors with exact paths: a model-level check that says
    ``value: required`` is reported at ``...transformations[0].value``."""
    out: list[FieldError] = []
    for err, plain in zip(exc.errors(), field_errors(exc), strict=True):
        loc = _without_op_tag(err["loc"])
        key = ""
        if len(loc) >= 2 and loc[-1] == "[key]":  # a bad dict key: name it in the message
            key, loc = f"key {loc[-2]!r}: ", loc[:-2]
        path = format_path(loc)
        kind = err["type"]
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            tag = (err.get("ctx") or {}).get("tag")
            what = f"unknown op {tag!r}" if kind == "union_tag_invalid" else "required"
            out.append(
                FieldError(
                    _join(path, "op"),
                    f"{what}; known ops: {', '.join(OPS)} (a transformation is a named "
                    "operation with parameters, never code)",
                )
            )
        elif kind == "value_error":
            for line in plain.message.splitlines():
                match = None if key else _PATH_MESSAGE.fullmatch(line)
                out.append(
                    FieldError(_join(path, match[1]), match[2])
                    if match
                    else FieldError(path, key + line)
                )
        else:
            out.append(FieldError(path, key + plain.message))
    return out


def parse_campaign(data: CampaignSpec | Mapping[str, Any]) -> CampaignSpec:
    """Validate a campaign (a spec, or a dict from a file or request) or raise
    :class:`ValidationFailed` with one path-named line per problem, such as
    ``steps[1].transformations[0].value: required when there is no source``."""
    if isinstance(data, CampaignSpec):
        raw: Any = data.model_dump()
    elif isinstance(data, Mapping):
        raw = dict(data)
    else:
        raise ValidationFailed("campaign", [FieldError("", "must be an object")])
    try:
        return CampaignSpec.model_validate(raw)
    except PydanticValidationError as exc:
        raise ValidationFailed("campaign", _located(exc)) from None
