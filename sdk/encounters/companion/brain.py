"""The LLM brain: a companion's turn as one chat with tools through the provider router.

The system prompt is the persona (name, description, traits, goals, blocked topics, the
rule to stay in character) plus what the NPC remembers of the player; the event is the
user message; the tools are the persona's allowed actions, one per action type, each
with a JSON Schema of its fields. The model's tool calls become actions and its plain
text a ``chat`` action. Nothing here is trusted: the companion moderates every action.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import GenerationError
from ..generation.llm import ChatResult, Message, ToolCall, ToolSpec
from ..i18n import tags
from ..i18n.detect import mismatch
from ..log import get_logger
from ..models.persona import ACTION_ALIASES, PersonaCore

if TYPE_CHECKING:
    from ..generation.router import ProviderManager

ActionDict = dict[str, Any]
log = get_logger(__name__)

_COORD = {"type": "number", "description": "world coordinate"}
_XYZ = {"x": _COORD, "y": _COORD, "z": _COORD}
_PLAYER = {"type": "string", "description": "the player's id"}

#: One tool per action type: what it does and the JSON Schema of its fields.
ACTION_TOOLS: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("Say something out loud to the players nearby.",
             {"message": {"type": "string", "maxLength": 2000}}, ),
    "move_to": ("Walk to a point in the world.", dict(_XYZ)),
    "follow": ("Follow a player, keeping a distance.",
               {"target": _PLAYER, "distance": {"type": "number", "minimum": 1, "maximum": 32}}),
    "look_at": ("Look at a player (target) or at a point (x, y, z).",
                {"target": _PLAYER, **_XYZ}),
    "emote": ("Play one of your emotes.", {"name": {"type": "string"}}),
    "use_entity": ("Use an entity (a door, a button).", {"entity": {"type": "string"}}),
    "interact": ("Interact with a block at x, y, z or with an entity.",
                 {"target_type": {"type": "string", "enum": ["block", "entity"]},
                  **_XYZ, "entity": {"type": "string"}}),
    "equip": ("Equip an item.", {"item": {"type": "string"},
                                 "hand": {"type": "string", "enum": ["hand", "off-hand"]}}),
    "use_item": ("Use the item in hand (or the named one).", {"item": {"type": "string"}}),
    "title": ("Show a big title on the players' screens.",
              {"text": {"type": "string", "maxLength": 200},
               "subtitle": {"type": "string", "maxLength": 200},
               "seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 30}}),
    "stop": ("Stop moving or following.", {}),
}  # fmt: skip
_REQUIRED: dict[str, list[str]] = {
    "chat": ["message"],
    "move_to": ["x", "y", "z"],
    "follow": ["target"],
    "emote": ["name"],
    "use_entity": ["entity"],
    "interact": ["target_type"],
    "equip": ["item"],
    "title": ["text"],
}


def tool_for(action_type: str, persona: PersonaCore | None = None) -> ToolSpec:
    """The tool for one action type (the persona's emotes listed for ``emote``)."""
    description, props = ACTION_TOOLS[action_type]
    properties = {k: dict(v) for k, v in props.items()}
    if action_type == "emote" and persona is not None and persona.embodiment.emotes:
        properties["name"]["enum"] = list(persona.embodiment.emotes)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if _REQUIRED.get(action_type):
        schema["required"] = list(_REQUIRED[action_type])
    return ToolSpec(action_type, description, schema)


def tools_for(persona: PersonaCore) -> list[ToolSpec]:
    """One tool per action the persona is allowed, in the persona's order."""
    return [tool_for(a, persona) for a in persona.safety.allowed_actions if a in ACTION_TOOLS]


def language_rule(language: str) -> str:
    """The prompt line that asks for the session's language ("" for English, the
    models' default)."""
    tag = tags.canonical(language)
    if tag.split("-", 1)[0] == "en":
        return ""
    name = tags.name(tag)
    return (
        f"Speak {name} (language tag {tag}): write every chat line and title in {name}, "
        "whatever language the player or the game data uses."
    )


def system_prompt(persona: PersonaCore, memory_context: str = "", language: str = "en") -> str:
    t = persona.traits
    lines = [
        f"You are {persona.name}, a companion character in a video game.",
        f"Description: {persona.description}" if persona.description else "",
        f"Traits: tone {t.tone}, ethics {t.ethics}, risk {t.risk}.",
        "Goals: " + "; ".join(persona.goals) if persona.goals else "",
        "Blocked topics (never discuss them, steer away politely): "
        + ", ".join(persona.safety.blocked_topics)
        if persona.safety.blocked_topics
        else "",
        "Stay in character, never discuss blocked topics, keep chat lines short (one or "
        "two sentences), and act only through the tools you are given.",
        language_rule(language),
    ]
    if memory_context:
        lines.append("What you remember of this player:\n" + memory_context)
    return "\n".join(line for line in lines if line)


def event_message(event: Mapping[str, Any]) -> str:
    """The event as the user message: a plain sentence for a chat, JSON otherwise."""
    kind = event.get("type")
    player = event.get("player") if isinstance(event.get("player"), Mapping) else {}
    assert isinstance(player, Mapping)
    who = f"{player.get('name', 'someone')} (id {player.get('id', '?')})"
    if kind == "player_chat":
        return f"{who} says: {event.get('message', '')}"
    if kind == "player_join":
        return f"{who} joined the game."
    if kind == "player_leave":
        return f"{who} left the game."
    data = {k: v for k, v in event.items() if k != "sid"}
    return "Game event: " + json.dumps(data, default=str, sort_keys=True)[:2000]


def action_from_call(call: ToolCall) -> ActionDict:
    """A tool call as an action dict (not validated: moderation does that)."""
    name = ACTION_ALIASES.get(call.name, call.name)
    args = dict(call.arguments) if isinstance(call.arguments, Mapping) else {}
    args.pop("id", None)
    return {**args, "type": name}


class Brain(Protocol):
    """Decides a companion's actions for one event."""

    async def decide(
        self, event: Mapping[str, Any], persona: PersonaCore, *, memory_context: str = ""
    ) -> list[ActionDict]: ...


class LLMBrain:
    """Decides through :meth:`ProviderManager.chat`, in ``language`` (BCP 47). Raises
    what the router raises (:class:`~encounters.errors.GenerationError` when no
    provider answers): the companion then falls back to its offline brain.

    A reply whose text is clearly in another language (:func:`encounters.i18n.detect.
    mismatch`) is asked for once more, in the session's language; a second wrong one
    raises ``GenerationError`` too, so the player gets the offline brain's line in
    their language rather than a line they may not read."""

    def __init__(
        self, router: ProviderManager, *, provider: str | None = None, language: str = "en"
    ) -> None:
        self.router = router
        self.provider = provider
        self.language = language

    async def _chat(self, messages: list[Message], tools: list[ToolSpec]) -> ChatResult:
        result = await self.router.chat(messages, tools, provider=self.provider)
        found = mismatch(result.text or "", self.language)
        if found is None:
            return result
        want = tags.name(self.language)
        log.info("companion.wrong_language_reask", expected=self.language, found=found)
        again = [
            *messages,
            Message("assistant", (result.text or "")[:2000]),
            Message(
                "user",
                f"You answered in {tags.NAMES[found]}. Answer again, in {want} only "
                f"(language tag {self.language}).",
            ),
        ]
        result = await self.router.chat(again, tools, provider=self.provider)
        found = mismatch(result.text or "", self.language)
        if found is not None:
            raise GenerationError(
                f"the model answered in {tags.NAMES[found]} twice instead of {want}"
            )
        return result

    async def decide(
        self, event: Mapping[str, Any], persona: PersonaCore, *, memory_context: str = ""
    ) -> list[ActionDict]:
        messages = [
            Message("system", system_prompt(persona, memory_context, self.language)),
            Message("user", event_message(event)),
        ]
        result = await self._chat(messages, tools_for(persona))
        actions: list[ActionDict] = []
        text = (result.text or "").strip()
        if text:
            actions.append({"type": "chat", "message": text[:2000]})
        actions.extend(action_from_call(c) for c in result.tool_calls)
        return actions

    async def think(self, prompt: str, persona: PersonaCore, *, memory_context: str = "") -> str:
        messages = [
            Message("system", system_prompt(persona, memory_context, self.language)),
            Message("user", prompt),
        ]
        result = await self._chat(messages, [])
        return (result.text or "").strip()


__all__ = [
    "ACTION_TOOLS",
    "ActionDict",
    "Brain",
    "LLMBrain",
    "action_from_call",
    "event_message",
    "language_rule",
    "system_prompt",
    "tool_for",
    "tools_for",
]
