"""Command line interface ``ae`` (typer + rich)."""

from . import addons, content, market, operators, play, players, remote, store, voice  # noqa: F401 - registers commands
from .app import app, main

__all__ = ["app", "main"]
