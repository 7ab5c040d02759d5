"""Imports of the optional dependencies, with an error that names the extra.

``pip install ai-encounters`` installs the core only: no LLM client and no web
server. A feature that needs one imports it through :func:`require`, which turns a
missing package into :class:`MissingExtra`: one line that says what to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import ConfigError


class MissingExtra(ConfigError):
    """An optional package is not installed; the message names the extra."""

    def __init__(self, module: str, extra: str, feature: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"{feature} needs the {module!r} package, which the core install leaves out: "
            f"pip install 'ai-encounters[{extra}]'"
        )


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module``; :class:`MissingExtra` naming ``extra`` when it (or a package
    it needs) is not installed."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = (exc.name or module).split(".")[0]
        raise MissingExtra(missing, extra, feature) from None
