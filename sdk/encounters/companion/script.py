"""The scripting API, in the style of discord.py::

    script = CompanionScript()

    @script.on("player_chat")
    async def hello(ctx: Context, event: dict) -> None:
        await ctx.say(f"Hello {event['player']['name']}!")

A handler gets a :class:`Context` (what the companion can do, per-session ``state``,
timers) and the event. The same script runs in-process (``Companion(script=...)``) and
in the daemon (``ae bridge serve --script FILE``; :func:`load_script`).
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConfigError
from ..models.persona import PersonaCore

if TYPE_CHECKING:
    from ..moderation.moderator import ActionDecision
    from .companion import Companion, Timer

Handler = Callable[["Context", dict[str, Any]], Awaitable[Any]]
H = TypeVar("H", bound=Handler)
#: A timer callback: ``async def cb(ctx)`` or ``async def cb()`` (plain functions too).
TimerCallback = Callable[..., Any]
#: Handlers registered for this type run for every event.
ANY_EVENT = "*"


class ScriptError(ConfigError):
    """A script file that cannot be used; the message names the file."""


class CompanionScript:
    """Event handlers for a companion. Several handlers may listen to one event type;
    they run in the order registered. An event type with handlers is the script's:
    the built-in brain does not answer it (a handler may still ask it with
    :meth:`Context.respond`)."""

    def __init__(self) -> None:
        self.handlers: dict[str, list[Handler]] = {}

    def on(self, event_type: str) -> Callable[[H], H]:
        """Register a handler for ``event_type`` (``"player_chat"``, ``"tick"``, any
        event type, or ``"*"`` for every event)."""
        if not isinstance(event_type, str) or not event_type:
            raise ValueError("event_type must be a non-empty string")

        def register(fn: H) -> H:
            is_async = inspect.iscoroutinefunction(fn)  # (not a narrowing TypeGuard)
            if not is_async:
                raise TypeError(f"handler {getattr(fn, '__name__', fn)!r} must be 'async def'")
            self.handlers.setdefault(event_type, []).append(fn)
            return fn

        return register

    def event(self, fn: H) -> H:
        """Register ``on_<type>`` for ``<type>`` (discord.py's ``@client.event``)."""
        name = getattr(fn, "__name__", "")
        if not name.startswith("on_") or len(name) == 3:
            raise ValueError(f"@script.event needs a function named on_<event type>, not {name!r}")
        return self.on(name[3:])(fn)

    def handlers_for(self, event_type: str | None) -> list[Handler]:
        specific = self.handlers.get(event_type, []) if event_type else []
        return [*specific, *self.handlers.get(ANY_EVENT, [])]


class Context:
    """What a handler (or a timer) can do. ``state`` is the session's dict, kept across
    events; ``event`` is the event being handled (None in a timer). Every action goes
    through moderation; each method returns its :class:`ActionDecision`."""

    def __init__(self, companion: Companion, event: Mapping[str, Any] | None = None) -> None:
        self.companion = companion
        self.event: dict[str, Any] | None = dict(event) if event is not None else None

    @property
    def state(self) -> dict[str, Any]:
        return self.companion.state

    @property
    def persona(self) -> PersonaCore:
        return self.companion.persona

    @property
    def session_id(self) -> str:
        return self.companion.session_id

    @property
    def player(self) -> dict[str, Any] | None:
        """The event's player (``{id, name, ...}``), if it names one."""
        player = (self.event or {}).get("player")
        return dict(player) if isinstance(player, Mapping) else None

    @property
    def player_id(self) -> str | None:
        player = self.player
        return str(player["id"]) if player and player.get("id") is not None else None

    # -- actions -------------------------------------------------------------------------

    async def act(self, action: Mapping[str, Any]) -> ActionDecision:
        """Any action, as a dict (``{"type": "title", "text": "..."}``)."""
        (decision,) = await self.companion.act([action])
        return decision

    async def say(self, message: str) -> ActionDecision:
        return await self.act({"type": "chat", "message": message})

    async def move_to(self, x: float, y: float, z: float) -> ActionDecision:
        return await self.act({"type": "move_to", "x": x, "y": y, "z": z})

    async def follow(self, player_id: str | None = None, distance: float = 3.0) -> ActionDecision:
        """Follow ``player_id`` (default: the event's player)."""
        target = player_id if player_id is not None else self.player_id
        return await self.act({"type": "follow", "target": target, "distance": distance})

    async def look_at(
        self,
        x: float | None = None,
        y: float | None = None,
        z: float | None = None,
        *,
        target: str | None = None,
    ) -> ActionDecision:
        """Look at a point (x, y, z) or a player (``target=``)."""
        action: dict[str, Any] = {"type": "look_at"}
        if target is not None:
            action["target"] = target
        else:
            action.update(x=x, y=y, z=z)
        return await self.act(action)

    async def emote(self, name: str) -> ActionDecision:
        return await self.act({"type": "emote", "name": name})

    async def stop(self) -> ActionDecision:
        return await self.act({"type": "stop"})

    # -- thinking ------------------------------------------------------------------------

    async def think(self, prompt: str) -> str:
        """Ask the LLM (in character, with the player's memory) for text; the offline
        brain's line when no LLM is configured or it fails. The text is not said (nor
        moderated) until the script says it."""
        return await self.companion.think(prompt, player_id=self.player_id)

    async def respond(self) -> list[ActionDecision]:
        """Let the built-in brain (LLM or offline) answer the current event."""
        if self.event is None:
            return []
        return await self.companion.respond(self.event)

    # -- timers --------------------------------------------------------------------------

    def every(self, seconds: float, callback: TimerCallback) -> Timer:
        """Call ``callback`` every ``seconds`` until cancelled or the session ends."""
        return self.companion.start_timer(seconds, callback, repeat=True)

    def after(self, seconds: float, callback: TimerCallback) -> Timer:
        """Call ``callback`` once after ``seconds`` (unless the session ended first)."""
        return self.companion.start_timer(seconds, callback, repeat=False)


def load_script(path: str | Path) -> CompanionScript:
    """Load a Python file that defines a module-level ``script = CompanionScript()``.
    Raises :class:`ScriptError` naming the file when it is missing, does not compile,
    fails while running, or defines no such ``script``."""
    file = Path(path)
    if not file.is_file():
        raise ScriptError(f"companion script {str(file)!r}: no such file")
    name = f"_ae_companion_script_{abs(hash(str(file.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ScriptError(f"companion script {str(file)!r}: cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise ScriptError(
            f"companion script {str(file)!r}: syntax error on line {exc.lineno}: {exc.msg}"
        ) from None
    except BaseException as exc:
        sys.modules.pop(name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ScriptError(
            f"companion script {str(file)!r} failed while loading: {type(exc).__name__}: {exc}"
        ) from None
    script = getattr(module, "script", None)
    if not isinstance(script, CompanionScript):
        found = "nothing" if script is None else type(script).__name__
        raise ScriptError(
            f"companion script {str(file)!r} must define a module-level "
            f"'script = CompanionScript()' (found {found})"
        )
    return script


__all__ = ["ANY_EVENT", "CompanionScript", "Context", "Handler", "ScriptError", "load_script"]
