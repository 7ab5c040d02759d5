"""``ae addon export gmod DIR``: write the Garry's Mod addon that ships with the
package into a folder, ready for ``garrysmod/addons/``.

A wheel carries the addon as ``encounters/addons/gmod``; a source checkout (an
editable install) has it in ``lua_addon/`` at the repository root. The export copies
every file, byte for byte, and refuses to write into a folder that is not empty
unless ``--force`` is given (then files of the same name are replaced; others stay).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Literal

import typer

from .. import __file__ as package_init
from ..errors import ConfigError
from ..i18n.messages import _
from .app import JsonFlag, app, fail, out, print_json

addon_app = typer.Typer(help=_("Game addons that ship with AI Encounters."), no_args_is_help=True)
app.add_typer(addon_app, name="addon")

_PACKAGE = Path(package_init).parent


def gmod_addon() -> Path:
    """The folder of the shipped GMod addon (the one holding ``addon.json``)."""
    for candidate in (_PACKAGE / "addons" / "gmod", _PACKAGE.parents[1] / "lua_addon"):
        if (candidate / "addon.json").is_file():
            return candidate
    raise ConfigError("the Garry's Mod addon is missing from this install; reinstall ai-encounters")


@addon_app.command("export")
def addon_export(
    game: Annotated[Literal["gmod"], typer.Argument(help="Which addon: gmod.")],
    folder: Annotated[
        Path, typer.Argument(help="Where to write it, e.g. garrysmod/addons/ai_companion.")
    ],
    force: Annotated[bool, typer.Option("--force", help="Write into a folder with files.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write the Garry's Mod addon into FOLDER (install guide: its README.md)."""
    source = gmod_addon()
    if folder.exists() and not folder.is_dir():
        raise fail(f"{folder} is a file; give a folder for the addon")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise fail(f"{folder} is not empty; give an empty or new folder, or --force to overwrite")
    written: list[str] = []
    try:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            relative = path.relative_to(source)
            if "__pycache__" in relative.parts:
                continue
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            written.append(relative.as_posix())
    except OSError as exc:
        raise fail(f"cannot write the addon into {folder}: {exc.strerror}") from None
    if as_json:
        print_json({"game": game, "folder": str(folder), "files": written})
        return
    out.print(
        f"wrote the {game} addon ({len(written)} files) to {folder}; next: set the "
        "ai_companion_* ConVars (see README.md there)",
        highlight=False,
        soft_wrap=True,
    )
