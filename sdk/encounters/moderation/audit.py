"""The audit log: every moderation decision, append-only, replayable by session.

Secrets and personal data never reach it: inputs and outputs are redacted before they
are stored. Redaction replaces values under keys that name a secret (``token``,
``key``, ``secret``, ``password``, ``authorization``...); inside any text, things that
look like credentials (see :mod:`.credentials`) become ``[redacted]`` and personal data
(e-mail, phone, card, IP address, postcode, street address, a child's age and town; see
:mod:`.pii`) becomes ``[personal data]``, so the log keeps what was decided and why
without keeping what players were shielded from. Limit: a secret or personal detail
with no recognisable shape, typed into chat, is stored as typed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, get_args

from ..models.audit import AuditEntry, Decision
from ..storage.protocols import AuditLog
from . import pii
from .credentials import SECRET_TEXT, has_mark

REDACTED = "[redacted]"
PERSONAL = "[personal data]"
#: Field names that hold secrets, in any case or separator style (``api_key``,
#: ``accessToken``, ``clientSecret``, ``pwd``).
_SECRET_KEY = re.compile(
    r"(token|secret|password|passwd|pwd|pass|passphrase|apikey|key|authorization|auth"
    r"|cookie|credential|signature)s?$",
    re.IGNORECASE,
)
#: Inputs are cut to this many characters in the log; a 1 MB message is not kept whole.
MAX_LOGGED_TEXT = 4000


@lru_cache(maxsize=4096)
def _is_secret_key(name: str) -> bool:
    """Field names repeat (``message``, ``token``...): decided once each."""
    return _SECRET_KEY.search(re.sub(r"[^a-z]", "", name.lower())) is not None


@lru_cache(maxsize=1024)
def _redact_text(value: str, language: str | None = None) -> str:
    """Remembered: an entry logs the same chat text as input and as output.
    ``language``: the session's, whose national forms of personal data count too."""
    # redact before cutting, so a secret across the cut is not half kept
    if len(value) >= 5 and has_mark(value):
        value = SECRET_TEXT.sub(REDACTED, value)
    value = _without_personal_data(value, language)
    text = value[:MAX_LOGGED_TEXT]
    if text.isascii():  # nothing to replace: skip the round trip
        return text
    # lone surrogates cannot be stored as UTF-8
    return text.encode("utf-8", "replace").decode("utf-8")


#: Personal data is looked for in this many leading characters of a text.
_PII_SCANNED = MAX_LOGGED_TEXT * 2


def _without_personal_data(value: str, language: str | None = None) -> str:
    """``value`` with the personal data in its first :data:`_PII_SCANNED` characters
    replaced. When something was found, the text is cut there: replacements shorten it,
    and text beyond the scan must never move into the logged characters."""
    found = pii.find(value[:_PII_SCANNED], language)
    if not found:
        return value
    value = value[:_PII_SCANNED]
    out: list[str] = []
    at = 0
    for start, end, _ in sorted(found):
        if start < at:  # overlaps the previous finding: extend it
            at = max(at, end)
            continue
        out += [value[at:start], PERSONAL]
        at = end
    out.append(value[at:])
    return "".join(out)


def _clean_text(value: str, language: str | None) -> str:
    """What :func:`_redact_text` gives for ``value`` when it is known to hold neither a
    credential nor personal data (``clean`` in :func:`redact`): the credential step
    would replace nothing and the personal-data scan find nothing, so only the cut and
    the UTF-8 repair are left. Not remembered: that costs more than it saves."""
    if len(value) > _PII_SCANNED:  # scanned whole, but the log scans a prefix: as before
        return _redact_text(value, language)
    text = value[:MAX_LOGGED_TEXT]
    if text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")


def redact(
    value: Any,
    _depth: int = 0,
    *,
    language: str | None = None,
    clean: Collection[str] = (),
) -> Any:
    """A copy of ``value`` with secrets replaced by ``[redacted]`` and personal data by
    ``[personal data]`` (see module doc).

    ``clean`` names strings known to hold neither personal data nor a credential (the
    moderator passes the texts its check scanned and found free of both): they are
    only cut, not scanned again; the result is the same as without it, only faster.
    ``language`` (the session's, BCP 47) adds that
    language's national forms of personal data (see :mod:`.pii`)."""
    if _depth > 20:
        return REDACTED
    if isinstance(value, str):
        return _clean_text(value, language) if value in clean else _redact_text(value, language)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in list(value.items())[:200]:
            key = str(k)
            if _is_secret_key(key[:200]):
                out[key] = REDACTED
            elif type(v) is str:  # most values: what redact(v) does, without the call
                out[key] = _clean_text(v, language) if v in clean else _redact_text(v, language)
            else:
                out[key] = redact(v, _depth + 1, language=language, clean=clean)
        return out
    if isinstance(value, list | tuple):
        return [redact(v, _depth + 1, language=language, clean=clean) for v in list(value)[:200]]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(repr(value), _depth + 1, language=language, clean=clean)


_SCALARS = frozenset((str, int, float, bool, type(None)))


def _flat(value: dict[Any, Any]) -> bool:
    """A dict of at most 200 scalars (see :meth:`AuditLogger.entry`): each value's
    exact type one of ``_SCALARS``, asked of the set in C (an action's dict: every
    entry)."""
    return len(value) <= 200 and _SCALARS.issuperset(map(type, value.values()))


#: The values :class:`AuditEntry` accepts for ``kind`` and ``decision``.
_KINDS = frozenset(get_args(AuditEntry.model_fields["kind"].annotation))
_DECISIONS = frozenset(get_args(Decision))
#: The fields an entry built by :meth:`AuditLogger.entry` was given (what validation
#: records as set; ``at`` and ``seq`` take their defaults).
_GIVEN = frozenset(
    ("session_id", "persona_id", "kind", "input", "decision", "reason", "categories", "output")
)
_new_entry = AuditEntry.__new__
#: What :func:`.common.utcnow` (the entry's default time) calls.
_now = datetime.now
_set = object.__setattr__


def _as_validated_text(text: object) -> bool:
    """``text`` passes :class:`AuditEntry`'s validation of a short text unchanged: an
    exact ``str`` of ASCII (no lone surrogate, which validation refuses) without
    leading or trailing whitespace (which validation strips)."""
    return type(text) is str and text.isascii() and text.strip() == text


def _validated_entry(
    kind: str,
    decision: str,
    input: Any,
    output: Any,
    reason: str | None,
    categories: Sequence[str],
    session_id: str | None,
    persona_id: str | None,
) -> AuditEntry:
    """The :class:`AuditEntry` these values make, built without running validation
    when they are already as validation would leave them (what the moderator always
    passes: its own kinds, decisions, reasons and category names, ASCII session and
    persona ids); otherwise validated. Either way the entry is the same: the same
    field values, the same fields set, and so the same stored JSON (checked in
    tests/sdk/moderation/test_moderation_audit_entry.py). Validation is most of the
    cost of an entry; ``input`` and ``output`` are ``Any`` and never validated."""
    if (
        type(kind) is str
        and kind in _KINDS
        and type(decision) is str
        and decision in _DECISIONS
        and type(categories) in (list, tuple)
        and (not categories or all(map(_as_validated_text, categories)))
        # None, or what _as_validated_text asks, written out (it runs for every message)
        and (reason is None or (type(reason) is str and reason.isascii()
                                and reason.strip() == reason))
        and (session_id is None or (type(session_id) is str and session_id.isascii()
                                    and session_id.strip() == session_id))
        and (persona_id is None or (type(persona_id) is str and persona_id.isascii()
                                    and persona_id.strip() == persona_id))
    ):  # fmt: skip
        entry = _new_entry(AuditEntry)
        # what BaseModel.model_construct does, without its per-field alias and default
        # lookups (the model has no aliases, private attributes, extra or post-init)
        _set(entry, "__dict__", {
            "seq": None, "at": _now(UTC), "session_id": session_id, "persona_id": persona_id,
            "kind": kind, "input": input, "decision": decision, "reason": reason,
            "categories": list(categories), "output": output,
        })  # fmt: skip
        _set(entry, "__pydantic_fields_set__", set(_GIVEN))
        _set(entry, "__pydantic_extra__", None)
        _set(entry, "__pydantic_private__", None)
        return entry
    return AuditEntry(
        kind=kind,
        decision=decision,
        input=input,
        output=output,
        reason=reason,
        categories=list(categories),
        session_id=session_id,
        persona_id=persona_id,
    )


def _entry(
    kind: str,
    decision: str,
    input: Any,
    output: Any,
    reason: str | None,
    categories: Sequence[str],
    session_id: str | None,
    persona_id: str | None,
    language: str | None,
    clean: Collection[str],
) -> AuditEntry:
    """:meth:`AuditLogger.entry`, with positional arguments (it runs for every message)."""
    if type(input) is str:  # a chat line: redact(input)
        logged_input = (
            _clean_text(input, language) if input in clean else _redact_text(input, language)
        )
    else:
        logged_input = redact(input, language=language, clean=clean)
    # what passes unchanged (a chat line, an action) is logged as input and output:
    # redacted once (redaction depends on the value alone; of a dict, on its first
    # 200 items, in order: so only small, flat dicts, whose order cannot matter)
    same = output is input or (
        type(output) is type(input)
        and (type(output) is str or (type(output) is dict and _flat(output)))
        and output == input
    )
    return _validated_entry(
        kind,
        decision,
        logged_input,
        logged_input if same else redact(output, language=language, clean=clean),
        reason[:200] if reason else None,
        categories,
        session_id[:64] if session_id else None,
        persona_id[:64] if persona_id else None,
    )


class AuditLogger:
    """Writes :class:`AuditEntry` rows to a store; :meth:`replay` reads a session's
    decisions back in order."""

    def __init__(self, store: AuditLog) -> None:
        self.store = store

    async def record(
        self,
        kind: str,
        decision: Decision,
        *,
        input: Any = None,
        output: Any = None,
        reason: str | None = None,
        categories: list[str] | tuple[str, ...] = (),
        session_id: str | None = None,
        persona_id: str | None = None,
        language: str | None = None,
        clean: Collection[str] = (),
    ) -> AuditEntry:
        entry = _entry(kind, decision, input, output, reason, categories, session_id,
                       persona_id, language, clean)  # fmt: skip
        (seq,) = await self.store.append_audit([entry])
        # our own entry, already stored: no copy needed. What ``entry.seq = seq`` does
        # (the field's value, and the field counted as set) without pydantic's
        # __setattr__ dispatch
        entry.__dict__["seq"] = seq
        entry.__pydantic_fields_set__.add("seq")
        return entry

    @staticmethod
    def entry(
        kind: str,
        decision: Decision,
        *,
        input: Any = None,
        output: Any = None,
        reason: str | None = None,
        categories: list[str] | tuple[str, ...] = (),
        session_id: str | None = None,
        persona_id: str | None = None,
        language: str | None = None,
        clean: Collection[str] = (),
    ) -> AuditEntry:
        """A redacted entry, not yet written (see :meth:`record_many`). ``clean``: texts
        known to hold neither personal data nor credentials; ``language``: the session's
        (see :func:`redact`)."""
        return _entry(kind, decision, input, output, reason, categories, session_id,
                      persona_id, language, clean)  # fmt: skip

    async def record_many(self, entries: list[AuditEntry]) -> None:
        """Write several entries in one append (one transaction)."""
        if entries:
            await self.store.append_audit(entries)

    async def replay(
        self, session_id: str, *, after_seq: int = 0, limit: int = 10_000
    ) -> list[AuditEntry]:
        """Every decision for ``session_id``, oldest first."""
        return await self.store.list_audit(session_id=session_id, after_seq=after_seq, limit=limit)
