"""The studio (the web app in ``web/``) served at ``/studio``.

``web/`` is built by ``npm run build`` (``make web``) into ``studio_dist/`` beside this
module; the wheel ships those files, so ``pip install`` users need no Node. Files are
served as they are; any other path under ``/studio`` gets ``index.html`` (the app routes
in the browser). Without a build, ``/studio`` answers 503 with the command that makes one.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

DIST = Path(__file__).with_name("studio_dist")

_NOT_BUILT = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Studio not built</title>
<p>The AI Encounters Studio has not been built. Run <code>make web</code> in the repository
(it runs <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>).</p></html>"""


def mount_studio(app: FastAPI, dist: Path = DIST) -> None:
    """Serve the built studio from ``dist`` at ``/studio`` (not part of the OpenAPI
    schema). Paths that would leave ``dist`` are answered with the index."""
    root = dist.resolve()

    @app.get("/studio", include_in_schema=False)
    async def studio_root() -> Response:
        return RedirectResponse("/studio/")

    @app.get("/studio/{path:path}", include_in_schema=False)
    async def studio(path: str) -> Response:
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(_NOT_BUILT, status_code=503)
        target = (root / path).resolve()
        if path and target.is_file() and target.is_relative_to(root):
            # hashed asset names never change content: cache them for a long time
            immutable = target.parent.name == "assets"
            cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
            return FileResponse(target, headers={"Cache-Control": cache})
        return FileResponse(index, headers={"Cache-Control": "no-cache"})


__all__ = ["DIST", "mount_studio"]
