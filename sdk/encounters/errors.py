"""Typed errors raised by the SDK.

Every error a user can cause has its own class so games can catch exactly what they
expect, and every message says what went wrong, where, and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass


class EncountersError(Exception):
    """Base class of every error the SDK raises on purpose."""


@dataclass(frozen=True)
class FieldError:
    """One problem in a piece of input, located by a field path such as
    ``objectives[2].quantity``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ValidationFailed(EncountersError, ValueError):
    """Input did not match a model; ``errors`` holds one line per problem."""

    def __init__(self, what: str, errors: list[FieldError]) -> None:
        self.what = what
        self.errors = errors
        lines = "\n".join(f"  {e}" for e in errors)
        super().__init__(f"invalid {what} ({len(errors)} error(s)):\n{lines}")


class NotFound(EncountersError, LookupError):
    """Something asked for by id does not exist."""


class SessionNotFound(NotFound):
    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        super().__init__(f"no session with id {session_id!r}; list sessions to see valid ids")


class EncounterNotFound(NotFound):
    def __init__(self, encounter_id: str) -> None:
        self.encounter_id = encounter_id
        super().__init__(f"no stored encounter with id {encounter_id!r}; generate or save it first")


class TemplateNotFound(NotFound):
    def __init__(self, template_id: str, known: list[str]) -> None:
        self.template_id = template_id
        hint = ", ".join(sorted(known)[:20])
        super().__init__(f"no template with id {template_id!r}; known templates: {hint}")


class TemplateError(EncountersError, ValueError):
    """A template file is malformed (bad placeholder, bad parameter declaration)."""


class ConfigError(EncountersError, ValueError):
    """Settings (``AE_*`` variables or arguments) are invalid or unusable."""


class TemplateParameterError(ValidationFailed):
    """Parameters given to a template are missing, unknown, of the wrong type or out of
    range. ``errors`` names each parameter."""

    def __init__(self, template_id: str, errors: list[FieldError]) -> None:
        self.template_id = template_id
        super().__init__(f"parameters for template {template_id!r}", errors)


class IllegalTransition(EncountersError):
    """A session was asked to move in a way its state machine does not allow, e.g.
    completing a session that has already failed."""

    def __init__(self, session_id: str, current: str, wanted: str) -> None:
        self.session_id = session_id
        self.current = current
        self.wanted = wanted
        super().__init__(
            f"session {session_id!r} is {current}; it cannot become {wanted} "
            "(only an active session can be completed, failed or abandoned)"
        )


class SessionNotActive(EncountersError):
    """A play step (objective, choice, NPC interaction) was sent to a finished session."""

    def __init__(self, session_id: str, status: str) -> None:
        self.session_id = session_id
        self.status = status
        super().__init__(f"session {session_id!r} is {status}; start a new session to keep playing")


class _UnknownPart(EncountersError, KeyError):
    """A session was asked about a part (objective, NPC) its encounter does not have."""

    part = "part"

    def __init__(self, session_id: str, part_id: str, known: list[str]) -> None:
        self.session_id = session_id
        names = ", ".join(known) or "(none)"
        super().__init__(
            f"session {session_id!r} has no {self.part} {part_id!r}; its {self.part}s are: {names}"
        )

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return str(self.args[0])


class UnknownObjective(_UnknownPart):
    part = "objective"

    def __init__(self, session_id: str, objective_id: str, known: list[str]) -> None:
        self.objective_id = objective_id
        super().__init__(session_id, objective_id, known)


class UnknownNPC(_UnknownPart):
    part = "NPC"

    def __init__(self, session_id: str, npc_id: str, known: list[str]) -> None:
        self.npc_id = npc_id
        super().__init__(session_id, npc_id, known)


class ObjectivesIncomplete(EncountersError):
    """``complete`` was called while required objectives are still open."""

    def __init__(self, session_id: str, open_ids: list[str]) -> None:
        self.session_id = session_id
        self.open_ids = open_ids
        super().__init__(
            f"session {session_id!r} still has required objectives open: "
            f"{', '.join(open_ids)}; complete them first, or fail/abandon the session"
        )


class ObjectiveLocked(EncountersError):
    """An objective was moved forward while objectives it requires are still open."""

    def __init__(self, session_id: str, objective_id: str, open_ids: list[str]) -> None:
        self.session_id = session_id
        self.objective_id = objective_id
        self.open_ids = open_ids
        super().__init__(
            f"objective {objective_id!r} of session {session_id!r} needs "
            f"{', '.join(open_ids)} completed first"
        )


class StoreError(EncountersError):
    """The store could not be read or written."""


class StoreValueRefused(StoreError):
    """The store refused a value it was given, not its own state: PostgreSQL's data
    exceptions (SQLSTATE class 22), such as a NUL character (U+0000) in text, which it
    cannot keep. Nothing was applied; the same value will be refused again, so the
    caller (not the operator) has something to fix."""


class StoreCorrupt(StoreError):
    """A store file or a row in it is damaged. Nothing is overwritten or deleted when
    this is raised; the message names the file or row and how to recover."""


class GenerationError(EncountersError):
    """No generator could produce a valid encounter."""
