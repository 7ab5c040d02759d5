"""The offline brain: rules, no LLM. It greets, answers simple requests (follow me,
stop, come here) and idles believably on ``tick``, in the session's language (see
:mod:`.lines`). It is deterministic for a seed, and only proposes actions the persona
is allowed (moderation still checks them)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from ..models.persona import PersonaCore
from .lines import LINES, Lines, lines_for

ActionDict = dict[str, Any]


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
    each ``tick``; ``seed`` makes the choices repeatable; ``language`` (BCP 47) picks
    the lines and the words understood (plus English)."""

    def __init__(
        self, *, seed: int | None = 0, idle_chance: float = 0.3, language: str = "en"
    ) -> None:
        self.rng = random.Random(seed)
        self.idle_chance = idle_chance
        self.lines: Lines = lines_for(language)
        self._heard = (self.lines,) if self.lines is LINES["en"] else (self.lines, LINES["en"])

    def _said(self, text: str, intent: str) -> bool:
        return any(getattr(table, intent).search(text) for table in self._heard)

    async def decide(
        self, event: Mapping[str, Any], persona: PersonaCore, *, memory_context: str = ""
    ) -> list[ActionDict]:
        return self.decide_now(event, persona)

    def decide_now(self, event: Mapping[str, Any], persona: PersonaCore) -> list[ActionDict]:
        kind = event.get("type")
        if kind == "player_join":
            pid, name = _player(event)
            actions = [self._chat(persona, self.lines.greetings, name)]
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
        acks = self.lines.acks
        if self._said(text, "follow") and pid and "follow" in allowed:
            return [self._chat(persona, acks["follow"], name), {"type": "follow", "target": pid}]
        if self._said(text, "come"):
            pos = _position(event)
            if pos is not None and "move_to" in allowed:
                x, y, z = pos
                return [self._chat(persona, acks["come"], name),
                        {"type": "move_to", "x": x, "y": y, "z": z}]  # fmt: skip
            if pid and "follow" in allowed:
                return [self._chat(persona, acks["come"], name),
                        {"type": "follow", "target": pid}]  # fmt: skip
        if self._said(text, "stop"):
            return [self._chat(persona, acks["stop"], name), {"type": "stop"}]
        if self._said(text, "greeting"):
            return [self._chat(persona, self.lines.greetings, name)]
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
        line = self.rng.choice(self.lines.idle[persona.traits.tone])
        if persona.goals and self.rng.random() < 0.3:
            line += self.lines.goal.format(goal=persona.goals[0])
        return line

    async def think(self, prompt: str, persona: PersonaCore, *, memory_context: str = "") -> str:
        """The offline answer to a script's ``think``: an in-character line."""
        return self.line(persona)


__all__ = ["OfflineBrain"]
