"""Credentials pasted into text: API keys, tokens, passwords.

The audit log stores them as ``[redacted]`` and the moderator masks them in what players
see, whatever the persona blocks: a key in a companion's line must never reach a
player. Shapes: OpenAI and Anthropic keys (``sk-...``), this project's keys and tokens
(``ae_...``, ``deploy_...``), webhook secrets (``whsec_...``), bearer and basic
credentials, Stripe, GitHub, AWS, Google and Slack keys, ``user:password@`` in URLs,
JWTs and ``password=...`` style assignments.

Limit: a secret with no recognisable shape is not found.
"""

from __future__ import annotations

import re

import ahocorasick

SECRET_TEXT = re.compile(
    r"\bsk-(?:ant-)?[A-Za-z0-9_-]{16,}"
    r"|\b(?:ae|deploy)_[A-Za-z0-9]{2,8}_[A-Za-z0-9_-]{16,}"
    r"|\bdeploy_[A-Za-z0-9_-]{16,}"
    r"|\bwhsec_[A-Za-z0-9+/=]{16,}"
    r"|\b(?:[Bb]earer|[Bb]asic)\s+[A-Za-z0-9._~+/=-]{8,}"
    r"|\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}"  # GitHub
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key id
    r"|\bAIza[0-9A-Za-z_-]{30,}"  # Google API key
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|(?<=://)[^\s/:@]+:[^\s/@]+(?=@)"  # user:password@ in URLs
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r"|(?i:\b(?:password|passwd|pwd|api[_ -]?key|secret|token)\s*[:=]\s*)\S+"
)
#: Every pattern of ``SECRET_TEXT`` needs one of these characters or words, so text
#: with none of them (most chat) skips the slow full scan.
SECRET_MARKS = (
    ":", "=", "sk-", "ae_", "deploy_", "whsec_", "earer", "asic", "_live_", "_test_",
    "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "AKIA", "AIza", "xox", "eyJ",
)  # fmt: skip


#: One search for any of ``SECRET_MARKS``.
SECRET_HINT = re.compile("|".join(map(re.escape, SECRET_MARKS)))


def _marks_finder() -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for mark in SECRET_MARKS:
        automaton.add_word(mark, mark)
    automaton.make_automaton()
    return automaton


#: Finds the ``SECRET_MARKS`` in a text as ``SECRET_HINT`` does, in one C-level pass
#: (the regex alternation tries each mark at nearly every character).
_MARKS = _marks_finder()


def has_mark(text: str) -> bool:
    """Whether ``text`` holds one of ``SECRET_MARKS`` (``SECRET_HINT.search``, faster;
    run on every chat line)."""
    return next(_MARKS.iter(text), None) is not None


def find(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every credential in ``text``."""
    if len(text) < 5 or not has_mark(text):
        return []
    return [(m.start(), m.end()) for m in SECRET_TEXT.finditer(text)]
