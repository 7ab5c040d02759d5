"""The SDK's own structured logger (structlog): quiet by default, console or JSON lines
on stderr by setting.

Why its own logger: a library must not take over the game's logging. We never call
``structlog.configure``; our loggers are wrapped with our own processors, so a game's
structlog setup and ours do not touch. ``configure_logging`` changes only the SDK's
logs, for the whole process (the last call wins).
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


_PASS_ALL = structlog.make_filtering_bound_logger(logging.DEBUG)


class _Config:
    level = logging.WARNING
    fmt = "console"
    stream: TextIO | None = None  # None: whatever sys.stderr is at the time of the call


def configure_logging(
    level: str = "warning", fmt: str = "console", stream: TextIO | None = None
) -> None:
    """Set the SDK's log level (debug, info, warning, error) and format (console or
    json). Logs go to ``stream`` or stderr, so JSON on stdout stays clean."""
    _Config.level = _LEVELS.get(level, logging.WARNING)
    _Config.fmt = "json" if fmt == "json" else "console"
    _Config.stream = stream


class SDKLogger:
    """A structlog logger for one module that reads the SDK's current settings at each
    call, so configuring after import works."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _log(self, level: int, method: str, event: str, kw: dict[str, Any]) -> None:
        if level < _Config.level:
            return
        stream = _Config.stream or sys.stderr
        renderer: Any = (
            structlog.processors.JSONRenderer()
            if _Config.fmt == "json"
            else structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        )
        logger = structlog.wrap_logger(
            structlog.PrintLogger(file=stream),
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                *([structlog.processors.format_exc_info] if _Config.fmt == "json" else []),
                renderer,
            ],
            wrapper_class=_PASS_ALL,  # ours, not the game's: we filter by level above
            context_class=dict,
            cache_logger_on_first_use=False,
        )
        getattr(logger, method)(event, logger=self.name, **kw)

    def debug(self, event: str, **kw: Any) -> None:
        self._log(logging.DEBUG, "debug", event, kw)

    def info(self, event: str, **kw: Any) -> None:
        self._log(logging.INFO, "info", event, kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._log(logging.WARNING, "warning", event, kw)

    def error(self, event: str, **kw: Any) -> None:
        self._log(logging.ERROR, "error", event, kw)

    def exception(self, event: str, **kw: Any) -> None:
        self._log(logging.ERROR, "error", event, {**kw, "exc_info": True})


def get_logger(name: str) -> SDKLogger:
    return SDKLogger(name)
