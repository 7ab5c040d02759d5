"""Build hook: the studio (``web/``) is built into ``studio_dist/`` before a wheel or an
sdist is made, so both ship it and ``pip install`` users need no Node.

The studio counts as stale when any of ``web/``'s sources (everything under ``web/``
but ``node_modules``) is newer than ``studio_dist/index.html``; then the hook runs
``npm ci`` (only when ``web/node_modules`` is older than the lockfile, as ``make web``
does) and ``npm run build``. A fresh studio is reused as it is, so building a wheel
after ``make web`` runs no npm at all. Without Node and npm a stale studio is shipped
with a warning; with no studio at all the build stops with a one-line message.
Editable installs (``pip install -e``) serve ``studio_dist/`` from the source tree and
build nothing: ``make web`` keeps it current.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

DIST = Path("bridge/encounters_bridge/studio_dist")
WEB = Path("web")
#: Written after ``npm ci`` (the Makefile uses the same stamp).
NPM_STAMP = WEB / "node_modules" / ".installed"


def newest_source(web: Path) -> float:
    """The newest modification time of the studio's sources under ``web``."""
    newest = 0.0
    for path in web.rglob("*"):
        parts = path.relative_to(web).parts
        if "node_modules" in parts or any(p.startswith(".") for p in parts):
            continue
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
    return newest


def is_stale(root: Path) -> bool:
    """True when the studio in ``root`` was never built or a source changed since."""
    index = root / DIST / "index.html"
    if not index.is_file():
        return True
    return newest_source(root / WEB) > index.stat().st_mtime


class StudioBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return
        root = Path(self.root)
        index = root / DIST / "index.html"
        if is_stale(root):
            npm = shutil.which("npm")
            if npm is None or not (root / WEB / "package.json").is_file():
                if not index.is_file():
                    self.app.abort(
                        "the studio (web/) is not built and npm is not on PATH: install "
                        "Node.js 20+ with npm, or run `make web` where Node is, then build again"
                    )
                self.app.display_warning(
                    "web/ changed since the studio was built and npm is not on PATH: "
                    "the wheel ships the studio as it was last built"
                )
            else:
                self._build(root, npm)
        build_data["artifacts"].append(f"/{DIST.as_posix()}/**")

    def _build(self, root: Path, npm: str) -> None:
        web = root / WEB
        stamp = root / NPM_STAMP
        lock = web / "package-lock.json"
        if not stamp.is_file() or stamp.stat().st_mtime < max(
            lock.stat().st_mtime, (web / "package.json").stat().st_mtime
        ):
            self.app.display_info("building the studio: npm ci in web/")
            self._run([npm, "ci", "--no-audit", "--no-fund"], web)
            stamp.touch()
        self.app.display_info("building the studio: npm run build in web/")
        self._run([npm, "run", "build"], web)
        (root / DIST / "index.html").touch()

    def _run(self, command: list[str], cwd: Path) -> None:
        done = subprocess.run(command, cwd=cwd, check=False)
        if done.returncode != 0:
            self.app.abort(
                f"`npm {' '.join(command[1:])}` in {cwd} failed (exit {done.returncode}, output "
                "above): fix it, or run `make web` to see why, then build again"
            )
