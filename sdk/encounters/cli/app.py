"""The ``ae`` command: the root app, global options and error handling.

Expected errors (bad input, unknown ids, illegal moves) print one clear message to
stderr and exit with status 1; they never show a traceback (``AE_DEBUG=1`` shows it).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic_core import to_jsonable_python
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from ..errors import EncountersError
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
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    name="ae",
    help="AI Encounters: generate, validate and play game encounters offline.",
    no_args_is_help=True,
    add_completion=False,
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

    def engine(self) -> SyncEngine:
        return SyncEngine(self.settings())

    def templates(self) -> TemplateLibrary:
        """The template library without opening the store."""
        library = TemplateLibrary.builtin()
        for folder in self.settings().template_dirs:
            library.load_folder(folder)
        return library


state = State()


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
            help="Where the store lives (default: AE_DATA_DIR or the user data folder).",
        ),
    ] = None,
    log_format: Annotated[
        str | None, typer.Option("--log-format", help="console or json (AE_LOG_FORMAT).")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log info messages (AE_LOG_LEVEL).")
    ] = False,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    state.data_dir = data_dir
    state.log_format = log_format
    state.verbose = verbose


#: The ``--json`` option of every command that shows data.
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead.")]


def print_json(data: object) -> None:
    """Data as indented JSON on stdout: models, lists and dicts of them, dates as ISO."""
    print(json.dumps(to_jsonable_python(data), indent=2, ensure_ascii=False))


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error line; the caller raises the returned Exit."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code)


def main() -> None:
    """Entry point of the ``ae`` script: adds the commands of installed packages
    (:mod:`encounters.cli.plugins`), then runs. ``AE_DEBUG=1`` shows tracebacks."""
    from .plugins import load_plugins

    load_plugins()
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
