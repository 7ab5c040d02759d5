"""Commands other packages add to ``ae``, found through the ``ae.commands``
entry-point group.

The SDK never imports those packages by name: ``ae`` loads every entry point of the
group when it starts. An entry point is a module that registers its commands on
:data:`encounters.cli.app` when imported, or a callable that is called with the app.
The bridge daemon adds ``ae bridge``, ``ae worlds`` and ``ae keys`` this way.

An entry point whose dependencies are not installed (the bridge without its extra)
does not break ``ae``: its name becomes a command that says what to install.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from types import ModuleType

import typer

from .app import app, fail

GROUP = "ae.commands"
_loaded = False


def _unavailable(name: str, missing: str) -> None:
    @app.command(
        name,
        help=f"Not installed: needs pip install 'ai-encounters[{name}]'.",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )
    def stub(ctx: typer.Context) -> None:
        raise fail(
            f"the {name} commands need the {missing!r} package: pip install 'ai-encounters[{name}]'"
        )


def load_plugins() -> None:
    """Load the ``ae.commands`` entry points once; later calls do nothing."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for entry in entry_points(group=GROUP):
        try:
            loaded = entry.load()
        except ModuleNotFoundError as exc:
            _unavailable(entry.name, (exc.name or "?").split(".")[0])
            continue
        if callable(loaded) and not isinstance(loaded, ModuleType):
            loaded(app)
