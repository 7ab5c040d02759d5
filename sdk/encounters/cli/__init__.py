"""Command line interface ``ae`` (typer + rich)."""

from . import content, play, players, remote  # noqa: F401 - registers the commands
from .app import app, main

__all__ = ["app", "main"]
