"""The offline brain: rules, no LLM. It greets, answers simple requests (follow me,
stop, come here) and idles believably on ``tick``. It is deterministic for a seed, and
only proposes actions the persona is allowed (moderation still checks them)."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from typing import Any

from ..models.persona import PersonaCore

ActionDict = dict[str, Any]

GREETING = re.compile(r"\b(hello|hi|hey|howdy|greetings|hiya)\b", re.I)
FOLLOW = re.compile(r"\bfollow\s+me\b", re.I)
STOP = re.compile(r"\b(stop|wait|stay)\b", re.I)
COME = re.compile(r"\b(come\s+here|come\s+to\s+me|over\s+here)\b", re.I)

_GREETINGS = {
    "curious": "Hello, {name}! What brings you here?",
    "serious": "Greetings, {name}.",
    "playful": "Hey hey, {name}! Ready for some fun?",
    "mysterious": "Ah, {name}... I was expecting you.",
}
_ACKS = {
    "follow": {"curious": "Lead the way, {name}!", "serious": "Understood. I will follow.",
               "playful": "Right behind you, {name}!", "mysterious": "Your shadow, then."},
    "stop": {"curious": "Alright, I'll wait here.", "serious": "Holding position.",
             "playful": "Freezing like a statue!", "mysterious": "I shall linger."},
    "come": {"curious": "On my way, {name}!", "serious": "Coming.",
             "playful": "Zoom! Coming over!", "mysterious": "I come when called."},
}  # fmt: skip
_LINES = {
    "curious": ["Interesting! Tell me more.", "I wonder what lies past those hills.",
                "Hmm, I have never thought about it that way."],
    "serious": ["Noted.", "Let us stay focused.", "There is work to be done."],
    "playful": ["Ha! You are funny.", "Ooh, let's go on an adventure!",
                "I bet I can find treasure before you!"],
    "mysterious": ["Some things are better left unsaid.", "The stars whisper of such things.",
                   "Perhaps... perhaps not."],
}  # fmt: skip


def _position(event: Mapping[str, Any]) -> tuple[float, float, float] | None:
    """The player's position, from ``player.position`` or ``position`` (``{x, y, z}``
    or ``[x, y, z]``)."""
    player = event.get("player")
    candidates = [player.get("position") if isinstance(player, Mapping) else None,
                  event.get("position")]  # fmt: skip
    for pos in candidates:
        try:
            if isinstance(pos, Mapping):
                return float(pos["x"]), float(pos["y"]), float(pos["z"])
            if isinstance(pos, list | tuple) and len(pos) == 3:
                return float(pos[0]), float(pos[1]), float(pos[2])
        except (KeyError, TypeError, ValueError):
            continue
    return None


def _player(event: Mapping[str, Any]) -> tuple[str | None, str]:
    player = event.get("player")
    if not isinstance(player, Mapping):
        return None, "friend"
    pid = player.get("id")
    name = player.get("name")
    return (str(pid) if pid is not None else None), (str(name) if name else "friend")


class OfflineBrain:
    """Rule-based decisions. ``idle_chance`` is the chance of an idle emote or look on
    each ``tick``; ``seed`` makes the choices repeatable."""

    def __init__(self, *, seed: int | None = 0, idle_chance: float = 0.3) -> None:
        self.rng = random.Random(seed)
        self.idle_chance = idle_chance

    async def decide(
        self, event: Mapping[str, Any], persona: PersonaCore, *, memory_context: str = ""
    ) -> list[ActionDict]:
        return self.decide_now(event, persona)

    def decide_now(self, event: Mapping[str, Any], persona: PersonaCore) -> list[ActionDict]:
        kind = event.get("type")
        if kind == "player_join":
            pid, name = _player(event)
            actions = [self._chat(persona, _GREETINGS, name)]
            if pid and self.rng.random() < 0.5:
                actions.append({"type": "emote", "name": self._wave(persona)})
            return self._allowed(persona, actions)
        if kind == "player_chat":
            return self._allowed(persona, self._answer(event, persona))
        if kind == "tick":
            return self._allowed(persona, self._idle(event, persona))
        return []

    def _answer(self, event: Mapping[str, Any], persona: PersonaCore) -> list[ActionDict]:
        text = str(event.get("message") or "")
        pid, name = _player(event)
        allowed = persona.safety.allowed_actions
        if FOLLOW.search(text) and pid and "follow" in allowed:
            return [self._chat(persona, _ACKS["follow"], name), {"type": "follow", "target": pid}]
        if COME.search(text):
            pos = _position(event)
            if pos is not None and "move_to" in allowed:
                x, y, z = pos
                return [self._chat(persona, _ACKS["come"], name),
                        {"type": "move_to", "x": x, "y": y, "z": z}]  # fmt: skip
            if pid and "follow" in allowed:
                return [self._chat(persona, _ACKS["come"], name),
                        {"type": "follow", "target": pid}]  # fmt: skip
        if STOP.search(text):
            return [self._chat(persona, _ACKS["stop"], name), {"type": "stop"}]
        if GREETING.search(text):
            return [self._chat(persona, _GREETINGS, name)]
        return [{"type": "chat", "message": self.line(persona)}]

    def _idle(self, event: Mapping[str, Any], persona: PersonaCore) -> list[ActionDict]:
        if self.rng.random() >= self.idle_chance:
            return []
        options: list[ActionDict] = []
        allowed = persona.safety.allowed_actions
        if "emote" in allowed and persona.embodiment.emotes:
            options.append({"type": "emote", "name": self.rng.choice(persona.embodiment.emotes)})
        if "look_at" in allowed:
            pid, _ = _player(event)
            players = event.get("players")
            if pid is None and isinstance(players, list) and players:
                first = self.rng.choice(players)
                pid = str(first.get("id")) if isinstance(first, Mapping) else str(first)
            if pid:
                options.append({"type": "look_at", "target": pid})
            pos = _position(event)
            if pos is not None:
                x, y, z = pos
                options.append({"type": "look_at", "x": x + self.rng.uniform(-5, 5), "y": y,
                                "z": z + self.rng.uniform(-5, 5)})  # fmt: skip
        return [self.rng.choice(options)] if options else []

    def _wave(self, persona: PersonaCore) -> str:
        emotes = persona.embodiment.emotes
        return "wave" if "wave" in emotes else (emotes[0] if emotes else "wave")

    @staticmethod
    def _chat(persona: PersonaCore, table: Mapping[str, str], name: str) -> ActionDict:
        return {"type": "chat", "message": table[persona.traits.tone].format(name=name[:32])}

    @staticmethod
    def _allowed(persona: PersonaCore, actions: list[ActionDict]) -> list[ActionDict]:
        return [a for a in actions if a["type"] in persona.safety.allowed_actions]

    def line(self, persona: PersonaCore) -> str:
        """A short in-character line, chosen by the persona's tone."""
        line = self.rng.choice(_LINES[persona.traits.tone])
        if persona.goals and self.rng.random() < 0.3:
            line += f" I am here to {persona.goals[0]}."
        return line

    async def think(self, prompt: str, persona: PersonaCore, *, memory_context: str = "") -> str:
        """The offline answer to a script's ``think``: an in-character line."""
        return self.line(persona)


__all__ = ["OfflineBrain"]
