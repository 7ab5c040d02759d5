"""The ``ae`` command: the root app, global options and error handling.

Expected errors (bad input, unknown ids, illegal moves) print one clear message to
stderr and exit with status 1; they never show a traceback (``AE_DEBUG=1`` shows it).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic_core import to_jsonable_python
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from ..errors import EncountersError
from ..i18n.messages import _
from ..log import configure_logging
from ..settings import Settings, load_settings
from ..sync import SyncEngine
from ..templates import TemplateLibrary


class _Group(TyperGroup):
    """Turns the SDK's expected errors into one red line and exit status 1 (usage
    errors, such as an unknown option, exit with status 2)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except EncountersError as exc:
            if os.environ.get("AE_DEBUG") == "1":
                raise
            label = _("error:")
            err.print(f"[red]{label}[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    name="ae",
    help=_("AI Encounters: generate, validate and play game encounters offline."),
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)


@dataclass
class State:
    """Global options of one ``ae`` run."""

    data_dir: Path | None = None
    log_format: str | None = None
    verbose: bool = False

    def settings(self) -> Settings:
        """Settings from ``AE_*`` with the command line on top; configures logging."""
        settings = load_settings(
            data_dir=self.data_dir,
            log_format=self.log_format,
            log_level="info" if self.verbose else None,
        )
        configure_logging(settings.log_level, settings.log_format)
        return settings

    def store_settings(self) -> Settings:
        """:meth:`settings` for a command that opens the store: the data folder is
        checked first, so a folder that cannot hold the store is one line naming the
        fix, not a store error."""
        settings = self.settings()
        if settings.store == "sqlite":
            check_data_dir(settings.data_dir)
        return settings

    def engine(self) -> SyncEngine:
        return SyncEngine(self.store_settings())

    def templates(self) -> TemplateLibrary:
        """The template library without opening the store."""
        library = TemplateLibrary.builtin()
        for folder in self.settings().template_dirs:
            library.load_folder(folder)
        return library


state = State()

_FIX = "point --data-dir (or AE_DATA_DIR) at a folder you can write to"


def check_data_dir(folder: Path) -> None:
    """Exit with one line when ``folder`` cannot hold the store: a path that is (or
    goes through) a file, or a folder this user cannot write to. Writing is probed with
    a temporary file, the only test that also catches read-only mounts and ACLs; a
    folder that does not exist yet is left to the store to create."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing == folder and not folder.is_dir():
        raise fail(f"the data folder {str(folder)!r} is a file, not a folder; {_FIX}")
    if not existing.is_dir():
        raise fail(f"the data folder {str(folder)!r} cannot be created: {str(existing)!r} "
                   f"is a file, not a folder; {_FIX}")  # fmt: skip
    if existing != folder:
        return
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise fail(f"the data folder {str(folder)!r} is not writable ({exc.strerror}); "
                   f"{_FIX}, or give this user write access to it") from None  # fmt: skip


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"ai-encounters {version('ai-encounters')}", highlight=False)
        raise typer.Exit()


@app.callback()
def root(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help=_("Where the store lives (default: AE_DATA_DIR or the user data folder)."),
        ),
    ] = None,
    log_format: Annotated[
        str | None, typer.Option("--log-format", help=_("console or json (AE_LOG_FORMAT)."))
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help=_("Log info messages (AE_LOG_LEVEL)."))
    ] = False,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_version, help=_("Print the version and exit.")
        ),
    ] = False,
) -> None:
    state.data_dir = data_dir
    state.log_format = log_format
    state.verbose = verbose


#: The ``--json`` option of every command that shows data.
JsonFlag = Annotated[bool, typer.Option("--json", help=_("Print JSON (for scripts) instead."))]


def print_json(data: object) -> None:
    """Data as indented JSON on stdout: models, lists and dicts of them, dates as ISO."""
    print(json.dumps(to_jsonable_python(data), indent=2, ensure_ascii=False))


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error line; the caller raises the returned Exit."""
    label = _("error:")
    err.print(f"[red]{label}[/red] {escape(message)}", highlight=False)
    return typer.Exit(code)


def main() -> None:
    """Entry point of the ``ae`` script: adds the commands of installed packages
    (:mod:`encounters.cli.plugins`), then runs. ``AE_DEBUG=1`` shows tracebacks."""
    try:
        from .plugins import load_plugins

        load_plugins()
        app()
    except KeyboardInterrupt:
        err.print(_("interrupted"))
        sys.exit(130)
