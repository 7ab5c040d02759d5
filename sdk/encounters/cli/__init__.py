"""Command line interface ``ae`` (typer + rich)."""

from . import addons, content, operators, play, players, remote, store  # noqa: F401 - registers commands
from .app import app, main

__all__ = ["app", "main"]
