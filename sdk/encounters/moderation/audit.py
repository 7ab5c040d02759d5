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
from collections.abc import Collection
from functools import lru_cache
from typing import Any

from ..models.audit import AuditEntry, Decision
from ..storage.protocols import AuditLog
from . import pii
from .credentials import SECRET_HINT, SECRET_TEXT

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
def _redact_text(value: str, pii_checked: bool = False, language: str | None = None) -> str:
    """Remembered: an entry logs the same chat text as input and as output.

    ``pii_checked`` says :func:`.pii.find` already found nothing in ``value`` (the
    moderator's filter looked at this very string): the personal-data scan is skipped
    unless a credential was replaced, which changes the text the scan would see.
    ``language``: the session's, whose national forms of personal data count too."""
    # redact before cutting, so a secret across the cut is not half kept
    if len(value) >= 5 and SECRET_HINT.search(value):
        replaced = SECRET_TEXT.sub(REDACTED, value)
        pii_checked = pii_checked and replaced == value
        value = replaced
    if not (pii_checked and len(value) <= _PII_SCANNED):
        value = _without_personal_data(value, language)
    text = value[:MAX_LOGGED_TEXT]
    if text.isascii():  # nothing to replace: skip the round trip
        return text
    # lone surrogates cannot be stored as UTF-8
    return text.encode("utf-8", "replace").decode("utf-8")


#: Personal data is looked for in this many leading characters of a text.
_PII_SCANNED = MAX_LOGGED_TEXT * 2


def _without_personal_data(value: str, language: str | None = None) -> str:
    found = pii.find(value[:_PII_SCANNED], language)
    if not found:
        return value
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


def redact(
    value: Any,
    _depth: int = 0,
    *,
    pii_free: Collection[str] = (),
    language: str | None = None,
) -> Any:
    """A copy of ``value`` with secrets replaced by ``[redacted]`` and personal data by
    ``[personal data]`` (see module doc).

    ``pii_free`` names strings in which :func:`.pii.find` is known to find nothing (the
    moderator passes the text its filter already scanned): they are not scanned again.
    The result is the same as without it; only faster. ``language`` (the session's,
    BCP 47) adds that language's national forms of personal data (see :mod:`.pii`)."""
    if _depth > 20:
        return REDACTED
    if isinstance(value, str):
        return _redact_text(value, value in pii_free, language)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in list(value.items())[:200]:
            key = str(k)
            if _is_secret_key(key[:200]):
                out[key] = REDACTED
            elif type(v) is str:  # most values: what redact(v) does, without the call
                out[key] = _redact_text(v, v in pii_free, language)
            else:
                out[key] = redact(v, _depth + 1, pii_free=pii_free, language=language)
        return out
    if isinstance(value, list | tuple):
        return [
            redact(v, _depth + 1, pii_free=pii_free, language=language) for v in list(value)[:200]
        ]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(repr(value), _depth + 1, pii_free=pii_free, language=language)


_SCALARS = (str, int, float, bool, type(None))


def _flat(value: dict[Any, Any]) -> bool:
    """A dict of at most 200 scalars (see :meth:`AuditLogger.entry`)."""
    return len(value) <= 200 and all(type(v) in _SCALARS for v in value.values())


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
        pii_free: Collection[str] = (),
        language: str | None = None,
    ) -> AuditEntry:
        entry = self.entry(kind, decision, input=input, output=output, reason=reason,
                           categories=categories, session_id=session_id,
                           persona_id=persona_id, pii_free=pii_free,
                           language=language)  # fmt: skip
        (seq,) = await self.store.append_audit([entry])
        entry.seq = seq  # our own entry, already stored: no copy needed
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
        pii_free: Collection[str] = (),
        language: str | None = None,
    ) -> AuditEntry:
        """A redacted entry, not yet written (see :meth:`record_many`). ``pii_free``:
        texts known to hold no personal data; ``language``: the session's (see
        :func:`redact`)."""
        logged_input = (
            _redact_text(input, input in pii_free, language)  # a chat line: redact(input)
            if type(input) is str
            else redact(input, pii_free=pii_free, language=language)
        )
        # what passes unchanged (a chat line, an action) is logged as input and output:
        # redacted once (redaction depends on the value alone; of a dict, on its first
        # 200 items, in order: so only small, flat dicts, whose order cannot matter)
        same = output is input or (
            type(output) is type(input)
            and (type(output) is str or (type(output) is dict and _flat(output)))
            and output == input
        )
        return AuditEntry(
            kind=kind,
            decision=decision,
            input=logged_input,
            output=logged_input if same else redact(output, pii_free=pii_free, language=language),
            reason=reason[:200] if reason else None,
            categories=list(categories),
            session_id=session_id[:64] if session_id else None,
            persona_id=persona_id[:64] if persona_id else None,
        )

    async def record_many(self, entries: list[AuditEntry]) -> None:
        """Write several entries in one append (one transaction)."""
        if entries:
            await self.store.append_audit(entries)

    async def replay(
        self, session_id: str, *, after_seq: int = 0, limit: int = 10_000
    ) -> list[AuditEntry]:
        """Every decision for ``session_id``, oldest first."""
        return await self.store.list_audit(session_id=session_id, after_seq=after_seq, limit=limit)
