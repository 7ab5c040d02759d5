"""The content moderator: what a persona may say and do.

``moderate_message`` decides on one chat text for one persona:

- ``block`` when the text is empty, too long, not text, or touches a topic the persona
  blocks (self-harm, sexual content, hate, violence, politics, or a custom topic);
- ``sanitize`` when it only holds profanity or personal data and the persona's policy is
  ``sanitize``: the returned text has just those words masked;
- ``allow`` otherwise. Control and invisible format characters are removed from the
  text that is delivered (a chat line cannot carry terminal escapes or bidi tricks).

Topics are found in layers: the word lists and patterns (:mod:`.textfilter`); then
the offline topic model (:mod:`.topicmodel`), which adds the topics they missed (also
on a line they block, so its categories are complete) but never overrules their
judgement that a topic's words were game talk; then, when configured, provider
classifiers (:mod:`.classifiers`), bounded by a timeout, whose failure leaves
the offline decision (or blocks, with ``on_provider_failure="block"``).

Credentials (API keys, tokens; see :mod:`.credentials`) are masked in the delivered
text whatever the persona blocks (``sanitize``, reason ``secret``): a key that slips
into a companion's line never reaches a player.

``moderate_action`` checks an action: its shape and arguments, the persona's allowlist,
the world link's capabilities, world bounds (per world kind: see :data:`WORLD_AXES`), the
persona's emotes, the text it carries,
and finally the persona's actions-per-minute (refused actions do not use up the rate).

Nothing raises on bad input: every outcome is a result with a reason. When an
:class:`~.audit.AuditLogger` is attached every decision is written to it.
"""

from __future__ import annotations

import copy
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import anyio
from pydantic import BaseModel

from ..errors import ValidationFailed
from ..log import get_logger
from ..models.actions import Action, Chat, Emote, Interact, LookAt, MoveTo, Title
from ..models.audit import AuditEntry, Decision
from ..models.persona import BUILTIN_TOPICS, PersonaCore, Safety
from ..settings import ModerationSettings
from ..validation import validate_action
from . import credentials, pii
from .audit import AuditLogger
from .classifiers import TopicClassifier
from .ratelimit import InProcessRateLimiter, Rate, RateLimiter
from .textfilter import PERSONAL_DATA, PROFANITY, TextFilter
from .topicmodel import TopicModel, default_model

log = get_logger(__name__)

#: Categories a ``sanitize`` persona may have masked instead of blocked.
MASKABLE = (PROFANITY, PERSONAL_DATA)
#: The category of credentials, masked for every persona.
SECRET = "secret"

#: Source's map limit: a Garry's Mod coordinate lies within +-16384 units on every axis.
SOURCE_MAP_LIMIT = 16384.0

#: Coordinate bounds per world kind, as (axis, "horizontal" | "vertical" | a fixed bound).
#: Minecraft (and the web world, and a call that names no world) is y-up: x and z are
#: horizontal (``max_horizontal``), y vertical (``max_vertical``). Garry's Mod is z-up, with
#: x and y horizontal, and every axis within Source's map limit.
WORLD_AXES: dict[str | None, tuple[tuple[str, str | float], ...]] = {
    None: (("x", "horizontal"), ("y", "vertical"), ("z", "horizontal")),
    "gmod": (("x", SOURCE_MAP_LIMIT), ("y", SOURCE_MAP_LIMIT), ("z", SOURCE_MAP_LIMIT)),
}


#: A persona's actions-per-minute as a :class:`Rate` (immutable: one per count, not one
#: per action).
_per_minute = lru_cache(maxsize=256)(Rate.per_minute)


@dataclass(frozen=True)
class ModerationResult:
    decision: Decision
    reason: str | None = None
    #: Every category found, blocked or not.
    categories: tuple[str, ...] = ()
    #: The blocked topic that decided a ``block``.
    topic: str | None = None
    #: What may be delivered: the cleaned text, the masked text, or None when blocked.
    text: str | None = None

    @property
    def allowed(self) -> bool:
        return self.decision != "block"

    @property
    def sanitized(self) -> str | None:
        return self.text if self.decision == "sanitize" else None


@dataclass(frozen=True)
class ActionDecision:
    decision: Decision
    reason: str | None = None
    #: The action to perform (text fields masked when sanitized); None when blocked.
    action: Action | None = None
    errors: tuple[str, ...] = ()
    retry_after: float | None = None
    categories: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision != "block"


@dataclass
class _Counters:
    decisions: dict[str, int] = field(default_factory=dict)
    #: Provider classifier calls that failed or timed out.
    provider_failures: int = 0

    def count(self, kind: str, decision: str) -> None:
        key = _KEYS.get((kind, decision)) or f"{kind}:{decision}"
        self.decisions[key] = self.decisions.get(key, 0) + 1


#: The counters' keys of messages and actions, made once (counted for every message).
_KEYS = {
    (kind, decision): f"{kind}:{decision}"
    for kind in ("message", "action")
    for decision in ("allow", "sanitize", "block")
}


_KEEP_FORMAT = {"\u200d"}  # zero-width joiner: part of emoji sequences


def clean_for_delivery(text: str) -> str:
    """Remove control characters and invisible format characters (bidi overrides,
    zero-width spaces) except the emoji joiner; fold line breaks and tabs to spaces."""
    if text.isprintable():  # no Cc, Cf or Cs character at all (most chat): nothing to do
        return text.strip()
    out = []
    for ch in text:
        if ch in "\t\n\r":
            out.append(" ")
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cs") or (cat == "Cf" and ch not in _KEEP_FORMAT):
            continue
        out.append(ch)
    return "".join(out).strip()


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each span replaced by as many ``*``."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = "*" * (end - start)
    return "".join(chars)


def _secret_masked(result: ModerationResult) -> ModerationResult:
    """``result`` of a text whose credentials were masked before it was checked: a
    ``sanitize`` (reason ``secret`` unless something else was masked too)."""
    assert result.text is not None
    categories = tuple(sorted({*result.categories, SECRET}))
    reason = result.reason if result.decision == "sanitize" else SECRET
    return ModerationResult("sanitize", reason, categories, None, result.text)


def _safety(persona: PersonaCore | Safety | None) -> Safety:
    if persona is None:
        return Safety()
    return persona if isinstance(persona, Safety) else persona.safety


def _persona_id(persona: PersonaCore | Safety | None) -> str | None:
    return persona.id if isinstance(persona, PersonaCore) else None


class ContentModerator:
    """Moderates persona messages and actions. One instance serves every persona and
    session; it holds the word lists (built once), the topic model, the rate limiter
    and, optionally, provider classifiers and the audit log."""

    def __init__(
        self,
        text_filter: TextFilter | None = None,
        *,
        settings: ModerationSettings | None = None,
        classifiers: Sequence[TopicClassifier] = (),
        limiter: RateLimiter | None = None,
        audit: AuditLogger | None = None,
        topic_model: TopicModel | None = None,
    ) -> None:
        self.settings = settings or ModerationSettings()
        self.filter = text_filter or TextFilter.default(
            self.settings.lexicon_dirs, self.settings.languages
        )
        #: The offline topic model (the shipped one unless given; None when
        #: ``settings.topic_model`` is off).
        self.topic_model: TopicModel | None = (
            (topic_model or default_model()) if self.settings.topic_model else None
        )
        self.classifiers = list(classifiers)
        self.limiter: RateLimiter = limiter if limiter is not None else InProcessRateLimiter()
        self.audit = audit
        self.counters = _Counters()
        custom = sorted(self.filter.categories - set(BUILTIN_TOPICS) - {PROFANITY})
        self._topic_order = [*BUILTIN_TOPICS, *custom]
        self._languages: dict[str, ContentModerator] = {}

    async def aclose(self) -> None:
        """Close the classifiers that hold connections (each one, even if another
        fails). Call it on the event loop that used the moderator."""
        errors: list[BaseException] = []
        for classifier in self.classifiers:
            close = getattr(classifier, "aclose", None)
            if close is None:
                continue
            try:
                await close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def for_language(self, language: str | None) -> ContentModerator:
        """This moderator for a session in ``language`` (BCP 47): the same word lists
        (every language's, built once), topic model, limiter, counters and audit log,
        plus the personal data that language writes its own way (national phone
        numbers and ids, a child's age and town; see :mod:`.pii`). Kept per language."""
        key = language or None
        if key == self.filter.language:
            return self
        known = self._languages.get(key or "")
        if known is None:
            known = copy.copy(self)
            known.filter = self.filter.for_language(key)
            self._languages[key or ""] = known
        return known

    @property
    def topics(self) -> list[str]:
        """Every topic this moderator can recognise."""
        return list(self._topic_order)

    # -- messages --------------------------------------------------------------------

    def check_message(
        self,
        text: object,
        persona: PersonaCore | Safety | None = None,
        *,
        max_length: int | None = None,
    ) -> ModerationResult:
        """The offline decision: word lists and topic model (fast, no I/O, not
        audited)."""
        return self._check(text, persona, max_length)[0]

    def _check(
        self, text: object, persona: PersonaCore | Safety | None, max_length: int | None
    ) -> tuple[ModerationResult, tuple[str, ...]]:
        """:meth:`check_message`, and the texts in which the filter looked for personal
        data and credentials and found neither (the audit write need not look again)."""
        if not isinstance(text, str):
            return ModerationResult("block", "invalid_input"), ()
        limit = max_length or self.settings.max_message_length
        if len(text) > limit * 4:  # do not even clean a megabyte
            return ModerationResult("block", "too_long"), ()
        cleaned = clean_for_delivery(text)
        if not cleaned:
            return ModerationResult("block", "empty"), ()
        if len(cleaned) > limit:
            return ModerationResult("block", "too_long"), ()
        safety = _safety(persona)
        # credentials are masked before anything reads the words: a random key's
        # letters are not words, and whatever they spell must not decide the line
        spans = credentials.find(cleaned)
        scanned = _masked(cleaned, spans) if spans else cleaned
        found, skeleton, game_talk = self.filter.check(scanned, safety.context)
        if self.topic_model is not None:
            # the model may find what the word lists missed (also on a line they block
            # already, so its categories are complete), but not overrule them where
            # they judged a topic's words to be game talk, nor call a line that only
            # mentions a group ("any muslims here?") hate
            modelled = self.topic_model.topics_in(skeleton)
            if modelled:  # most lines: nothing to take away or add
                modelled -= game_talk
                modelled -= self.filter.neutral_topics(skeleton, modelled)
                found |= modelled
        result = self._decide(scanned, found, safety)
        if spans and result.text is not None:
            result = _secret_masked(result)
        # the filter adds personal_data whenever pii.find finds anything it scanned
        return result, (() if PERSONAL_DATA in found or spans else (cleaned,))

    def _decide(self, cleaned: str, found: set[str], safety: Safety) -> ModerationResult:
        if not found:  # most chat: nothing to weigh
            return ModerationResult("allow", None, (), None, cleaned)
        categories = tuple(sorted(found))
        blocked = set(safety.blocked_topics)
        for topic in self._topic_order:
            if topic in found and topic in blocked and topic not in MASKABLE:
                return ModerationResult("block", "blocked_topic", categories, topic)
        soft = [c for c in MASKABLE if c in found and (c == PROFANITY or c in blocked)]
        if not soft:
            return ModerationResult("allow", None, categories, None, cleaned)
        if safety.moderation == "block" or (
            PERSONAL_DATA in soft and self._asks_for_personal_data(cleaned, safety)
        ):
            return ModerationResult("block", soft[0], categories, soft[0])
        return ModerationResult(
            "sanitize",
            soft[0],
            categories,
            None,
            self.filter.mask(cleaned, soft, context=safety.context),
        )

    def _asks_for_personal_data(self, text: str, safety: Safety) -> bool:
        """A phrase asking for or offering personal data ("what's your address") is
        blocked even in sanitize mode: masking the phrase would leave the request."""
        return any(
            h.category == PERSONAL_DATA and h.term not in pii.KINDS
            for h in self.filter.hits(text, safety.context)
        )

    async def moderate_message(
        self,
        text: object,
        persona: PersonaCore | Safety | None = None,
        *,
        session_id: str | None = None,
        max_length: int | None = None,
    ) -> ModerationResult:
        """Decide on one message (see the module docstring), asking the classifiers
        about text the offline layers allow. A classifier that fails or takes longer
        than ``settings.provider_timeout`` leaves the offline decision, or blocks the
        message when ``settings.on_provider_failure`` is ``block``."""
        result, clean = self._check(text, persona, max_length)
        if self.classifiers and result.allowed and result.text:  # most: no classifiers
            result = await self._classify(result, _safety(persona))
        # what _audit does, without its coroutine (this runs for every chat line)
        self.counters.count("message", result.decision)
        if self.audit is not None:
            await self.audit.record("message", result.decision, input=text, output=result.text,
                                    reason=result.reason, categories=result.categories,
                                    session_id=session_id, persona_id=_persona_id(persona),
                                    clean=clean, language=self.filter.language)  # fmt: skip
        return result

    async def record_message(
        self, text: str, result: ModerationResult, *, session_id: str | None = None
    ) -> None:
        """Count and audit a decision :meth:`check_message` made, for callers that act
        on it at once and write its audit entry afterwards (a chat relay that must not
        wait for the store)."""
        await self._audit("message", result.decision, result.reason, result.categories,
                          text, result.text, session_id, None)  # fmt: skip

    async def _classify(self, result: ModerationResult, safety: Safety) -> ModerationResult:
        assert result.text is not None
        found = set(result.categories)
        for classifier in self.classifiers:
            try:
                with anyio.fail_after(self.settings.provider_timeout):
                    found |= await classifier.classify(result.text)
            except Exception as exc:  # TimeoutError included
                log.warning(
                    "moderation.classifier_failed", classifier=classifier.name, error=repr(exc)
                )
                self.counters.provider_failures += 1
                if self.settings.on_provider_failure == "block":
                    return ModerationResult("block", "classifier_unavailable", result.categories)
                # fall back to the offline layers: what the other classifiers found counts
        if found == set(result.categories):
            return result
        decided = self._decide(result.text, found, safety)
        if decided.decision == "block" and decided.reason == "blocked_topic":
            return ModerationResult("block", "classifier", decided.categories, decided.topic)
        return decided

    # -- actions ---------------------------------------------------------------------

    async def moderate_action(
        self,
        action: Mapping[str, Any] | Action,
        persona: PersonaCore,
        *,
        capabilities: Iterable[str] | None = None,
        session_id: str | None = None,
        world: str | None = None,
    ) -> ActionDecision:
        """Decide on one action for ``persona`` on a link with ``capabilities`` (the
        action types the game side supports; None means any) in a ``world`` kind (its
        coordinate bounds: :data:`WORLD_AXES`)."""
        checked: list[str] = []
        caps = frozenset(capabilities) if capabilities is not None else None
        decision = await self._action(action, persona, caps, session_id, checked, world)
        raw = action.model_dump() if isinstance(action, BaseModel) else action
        out = decision.action.model_dump() if decision.action is not None else None
        await self._audit(
            "action",
            decision.decision,
            decision.reason,
            decision.categories,
            raw,
            out,
            session_id,
            persona,
            checked,
        )
        return decision

    async def moderate_actions(
        self,
        actions: Sequence[Mapping[str, Any] | Action],
        persona: PersonaCore,
        *,
        capabilities: Iterable[str] | None = None,
        session_id: str | None = None,
        world: str | None = None,
    ) -> list[ActionDecision]:
        """Decide on a batch of actions in order (the rate applies action by action),
        writing their audit entries in one append."""
        decisions, entries = await self.decide_actions(
            actions, persona, capabilities=capabilities, session_id=session_id, world=world
        )
        if self.audit is not None:
            await self.audit.record_many(entries)
        return decisions

    async def decide_actions(
        self,
        actions: Sequence[Mapping[str, Any] | Action],
        persona: PersonaCore,
        *,
        capabilities: Iterable[str] | None = None,
        session_id: str | None = None,
        world: str | None = None,
    ) -> tuple[list[ActionDecision], list[AuditEntry]]:
        """Like :meth:`moderate_actions`, returning the audit entries instead of
        writing them, so a caller can write them in the same transaction as its own
        work (the bridge writes them with the dispatches)."""
        # a set once per batch, not per action
        caps = frozenset(capabilities) if capabilities is not None else None
        decisions: list[ActionDecision] = []
        entries: list[AuditEntry] = []
        for action in actions:
            checked: list[str] = []
            decision = await self._action(action, persona, caps, session_id, checked, world)
            decisions.append(decision)
            self.counters.count("action", decision.decision)
            raw = action.model_dump() if isinstance(action, BaseModel) else action
            out = decision.action.model_dump() if decision.action is not None else None
            entries.append(AuditLogger.entry(
                "action", decision.decision, input=raw, output=out, reason=decision.reason,
                categories=decision.categories, session_id=session_id,
                persona_id=persona.id, clean=checked, language=self.filter.language,
            ))  # fmt: skip
        return decisions, entries

    async def _action(
        self,
        raw: Mapping[str, Any] | Action,
        persona: PersonaCore,
        capabilities: AbstractSet[str] | None,
        session_id: str | None = None,
        checked: list[str] | None = None,
        world: str | None = None,
    ) -> ActionDecision:
        try:  # a model is checked again: its fields may have been changed after creation
            action = validate_action(raw.model_dump() if isinstance(raw, BaseModel) else dict(raw))
        except ValidationFailed as exc:
            return ActionDecision("block", "invalid_action", errors=tuple(map(str, exc.errors)))
        except (TypeError, ValueError):
            return ActionDecision("block", "invalid_action", errors=("must be an object",))
        safety = persona.safety
        if action.type not in safety.allowed_actions:
            return ActionDecision(
                "block",
                "action_not_allowed",
                errors=(
                    f"type: {action.type!r} is not in this persona's allowed actions "
                    f"({', '.join(safety.allowed_actions)})",
                ),
            )
        if capabilities is not None and action.type not in capabilities:
            return ActionDecision(
                "block",
                "not_supported_by_world",
                errors=(f"type: this world does not support {action.type!r}",),
            )
        problem = self._bounds(action, world) or self._emote(action, persona)
        if problem:
            return ActionDecision("block", problem[0], errors=(problem[1],))
        action, categories, text_problem, masked = await self._action_text(action, safety, checked)
        if text_problem is not None:
            return ActionDecision("block", text_problem, categories=categories)
        rate = _per_minute(safety.max_actions_per_minute)
        key = f"persona:{persona.id}:{session_id or '-'}:actions"  # per deployment
        limit = await self.limiter.hit(key, rate)
        if not limit.allowed:
            return ActionDecision(
                "block", "rate_limited", retry_after=limit.retry_after, categories=categories
            )
        if masked is not None:
            return ActionDecision("sanitize", masked, action, categories=categories)
        return ActionDecision("allow", None, action, categories=categories)

    def _bounds(self, action: Action, world: str | None = None) -> tuple[str, str] | None:
        if not isinstance(action, MoveTo | LookAt | Interact):
            return None
        point = {name: getattr(action, name) for name in ("x", "y", "z")}
        found = self.out_of_bounds(point, world)
        return None if found is None else ("out_of_bounds", f"{found[0]}: {found[1]}")

    def out_of_bounds(
        self, point: Mapping[str, float | None], world: str | None = None
    ) -> tuple[str, str] | None:
        """The first coordinate of ``point`` outside the world kind's bounds (see
        :data:`WORLD_AXES`) as ``(axis, message)``, or None when all are inside."""
        named = {"horizontal": self.settings.max_horizontal, "vertical": self.settings.max_vertical}
        for name, kind in WORLD_AXES.get(world, WORLD_AXES[None]):
            value = point.get(name)
            bound = named[kind] if isinstance(kind, str) else kind
            if value is not None and not (math.isfinite(value) and abs(value) <= bound):
                return name, f"must be between {-bound:g} and {bound:g}"
        return None

    def _emote(self, action: Action, persona: PersonaCore) -> tuple[str, str] | None:
        if isinstance(action, Emote) and action.name not in persona.embodiment.emotes:
            known = ", ".join(persona.embodiment.emotes)
            return (
                "unknown_emote",
                f"name: {action.name!r} is not one of this persona's emotes ({known})",
            )
        return None

    async def _action_text(
        self, action: Action, safety: Safety, checked: list[str] | None = None
    ) -> tuple[Action, tuple[str, ...], str | None, str | None]:
        """Moderate the text an action carries. Returns the action (control characters
        removed, masked when sanitized), the categories found, a block reason or None,
        and a sanitize reason or None. Texts found free of personal data and credentials
        are added to ``checked`` (for the audit write)."""
        fields: dict[str, str] = {}
        if isinstance(action, Chat):
            fields["message"] = action.message
        elif isinstance(action, Title):
            fields["text"] = action.text
            if action.subtitle:
                fields["subtitle"] = action.subtitle
        update: dict[str, str] = {}
        categories: set[str] = set()
        sanitize_reason: str | None = None
        for name, value in fields.items():
            result, free = self._check(value, safety, self.settings.max_chat_length)
            if checked is not None:
                checked.extend(free)
            if result.allowed and self.classifiers and result.text:
                result = await self._classify(result, safety)
            categories.update(result.categories)
            if not result.allowed:
                return action, tuple(sorted(categories)), result.reason or "blocked", None
            if result.decision == "sanitize":
                sanitize_reason = sanitize_reason or result.reason
            if result.text != value:
                update[name] = result.text or ""
        if update:
            action = action.model_copy(update=update)
        return action, tuple(sorted(categories)), None, sanitize_reason

    # -- audit -----------------------------------------------------------------------

    async def _audit(
        self,
        kind: str,
        decision: Decision,
        reason: str | None,
        categories: tuple[str, ...],
        given: Any,
        output: Any,
        session_id: str | None,
        persona: PersonaCore | Safety | None,
        clean: Sequence[str] = (),
    ) -> None:
        self.counters.count(kind, decision)
        if self.audit is not None:
            await self.audit.record(
                kind,
                decision,
                input=given,
                output=output,
                reason=reason,
                categories=categories,
                session_id=session_id,
                persona_id=_persona_id(persona),
                clean=clean,
                language=self.filter.language,
            )


__all__ = ["ActionDecision", "ContentModerator", "ModerationResult", "ModerationSettings"]
