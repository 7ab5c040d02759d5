"""Opaque, stable page cursors for marketplace search.

A cursor is the sort key of the last row a page showed (keyset pagination), with a
fingerprint of the query it belongs to, as base64url JSON. The next page asks for
rows strictly after that key in the sort order, so rows inserted between two pages
never show up twice and never push a row off the end unseen (new rows sort first or
land on a later page). Limit: a listing whose sort key itself changes between pages
(its rating or download count moves) may be seen twice or not at all, as with any
keyset over live data; ``new`` (first publication order) never changes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from ..errors import FieldError, ValidationFailed
from .models import SearchQuery

_MAX_CURSOR = 512


def fingerprint(query: SearchQuery) -> str:
    """What must stay the same between pages: every field but the page size."""
    data = query.model_dump(mode="json", exclude={"limit"})
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def encode(query: SearchQuery, key: list[Any]) -> str:
    raw = json.dumps({"q": fingerprint(query), "k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(query: SearchQuery, cursor: str) -> list[Any]:
    """The sort key in ``cursor``; a clear error when it is damaged or was made for
    another query (filters or sort changed: start again without a cursor)."""
    bad = ValidationFailed(
        "cursor",
        [FieldError("cursor", "is not a cursor this search gave; start again without one")],
    )
    if len(cursor) > _MAX_CURSOR:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(data, dict) or not isinstance(data.get("k"), list):
        raise bad
    if data.get("q") != fingerprint(query):
        raise ValidationFailed(
            "cursor",
            [
                FieldError(
                    "cursor",
                    "belongs to a search with other filters or another sort; "
                    "start again without a cursor",
                )
            ],
        )
    key: list[Any] = data["k"]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in key):
        raise bad
    return key
