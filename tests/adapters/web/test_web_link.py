"""The web world's link (``encounters_bridge/play_static/codec.js`` and ``link.js``, plain
ES modules the browser loads as they are) against the shared protocol vectors: a fourth
runner beside the Python, Lua and Node ones, using the browser's WebSocket API. It runs
in node's test runner (Node's global ``WebSocket``) and in headless Chromium (the same
runner module in a page), each against the reference daemon side (``VectorControl``).

Vectors the browser's WebSocket API cannot express are skipped by the runner with a
reason (``msgpack`` encodings, a refused handshake's HTTP status, a half-open TCP peer);
this test checks that exactly those are skipped and every other one passes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal

from tests.adapters.test_minecraft_bridge import VectorControl, _failed_lines, _tap_summary, serving
from tests.support.vectors import VECTORS, load

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.timeout(400)

#: vectors the runner cannot run through the WebSocket API, by the step that needs more
UNSUPPORTED = {"054-http-handshake-rules", "058-resume-while-old-connection-unresponsive"}


def node_with_websocket() -> list[str]:
    """Node with a global ``WebSocket``: 22+ has it, 20-21 behind a flag."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed for the web world's link tests (Node 20 or newer)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    if major < 20:
        pytest.fail(f"node {version.stdout.strip()} is too old: 20 or newer is needed")
    return [node, "--experimental-websocket"] if major < 22 else [node]


def json_vectors() -> list[str]:
    return [p.stem for p in VECTORS if "json" in load(p).get("encodings", ["json", "msgpack"])]


def test_web_link_and_world_unit_tests() -> None:
    run = subprocess.run(
        [*node_with_websocket(), "--test", "--test-reporter=tap", "link.test.mjs",
         "world.test.mjs", "i18n.test.mjs"],
        cwd=HERE, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    summary = _tap_summary(run.stdout)
    assert run.returncode == 0 and summary.get("fail") == 0, (
        f"node --test failed ({summary}):\n{_failed_lines(run.stdout)}\n{run.stderr[-3000:]}"
    )
    assert summary.get("skipped", 0) == 0 and summary.get("pass", 0) >= 20, summary


def test_web_world_modules_type_check_strictly() -> None:
    """The plain ES modules carry JSDoc types (``// @ts-check``): TypeScript's strict
    mode checks them (with the studio's TypeScript, ``web/node_modules``)."""
    tsc = ROOT / "web" / "node_modules" / ".bin" / "tsc"
    if not tsc.exists():
        pytest.fail(f"{tsc} is missing: run `make web` (npm ci in web/)")
    run = subprocess.run([str(tsc), "-p", str(HERE / "tsconfig.json")],
                         capture_output=True, text=True, timeout=180)  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-1000:]


def test_protocol_vectors_web_runner_in_node(tmp_path: Path) -> None:
    control = VectorControl(tmp_path)
    with start_blocking_portal("asyncio") as portal:
        try:
            with serving(portal, control.app) as url:
                run = subprocess.run(
                    [*node_with_websocket(), "--test", "--test-reporter=tap",
                     "web_vectors.test.mjs"],
                    cwd=HERE, env={"PATH": "/usr/bin:/bin", "AE_VECTORS_CONTROL": url},
                    capture_output=True, text=True, timeout=360,
                )  # fmt: skip
        finally:
            portal.call(control.stop, {})
    summary = _tap_summary(run.stdout)
    assert run.returncode == 0 and summary.get("fail") == 0, (
        f"vectors failed in the web runner ({summary}):\n{_failed_lines(run.stdout)}\n"
        f"{run.stderr[-3000:]}"
    )
    expected = json_vectors()
    passed = re.findall(r"^ok \d+ - (\S+)-json$", run.stdout, flags=re.MULTILINE)
    skipped = re.findall(r"^ok \d+ - (\S+)-json # SKIP", run.stdout, flags=re.MULTILINE)
    assert sorted(skipped) == sorted(UNSUPPORTED), skipped
    runnable = sorted(set(expected) - UNSUPPORTED)
    assert sorted(passed) == runnable, set(runnable) ^ set(passed)
    assert summary.get("pass") == len(runnable), summary
    assert sorted(set(control.started)) == runnable


PAGE = """<!doctype html><meta charset="utf-8"><title>vectors</title><pre id="out"></pre>
<script type="module">
import * as codec from '/codec.js'
import { controlAt, runOne } from '/vectors_runner.mjs'
const control = controlAt('')
const vectors = await (await fetch('/vectors.json')).json()
const known = (await control('/known_bugs')).known_bugs
const results = {}
for (const vector of vectors) {
  try {
    results[vector.name] = await runOne(vector, { codec, control, known })
  } catch (err) {
    results[vector.name] = `fail: ${err && err.message}`
  }
  document.getElementById('out').textContent += `${vector.name}: ${results[vector.name]}\\n`
}
window.results = results
</script>"""


def test_protocol_vectors_web_runner_in_chromium(tmp_path: Path) -> None:
    """The same runner module and codec in a real browser: Chromium's WebSocket."""
    from playwright.sync_api import sync_playwright
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    chromium = "/usr/bin/chromium"
    assert shutil.which(chromium), "Debian's chromium is needed: apt-get install chromium"
    control = VectorControl(tmp_path)
    codec = ROOT / "bridge" / "encounters_bridge" / "play_static" / "codec.js"
    runner = HERE / "vectors_runner.mjs"
    vectors = [load(p) for p in VECTORS if p.stem in json_vectors()]

    def script(path: Path) -> Route:
        async def serve(_: object) -> Response:
            return Response(path.read_text(encoding="utf-8"), media_type="text/javascript")

        return Route(f"/{path.name}", serve)

    async def page(_: object) -> HTMLResponse:
        return HTMLResponse(PAGE)

    async def listing(_: object) -> JSONResponse:
        return JSONResponse(vectors)

    app = Starlette(routes=[
        *control.app.routes, script(codec), script(runner),
        Route("/", page), Route("/vectors.json", listing),
    ])  # fmt: skip
    with start_blocking_portal("asyncio") as portal:
        try:
            with serving(portal, app) as url, sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, headless=True)
                try:
                    tab = browser.new_page()
                    tab.goto(url + "/")
                    tab.wait_for_function("window.results !== undefined", timeout=300_000)
                    results: dict[str, str] = tab.evaluate("window.results")
                finally:
                    browser.close()
        finally:
            portal.call(control.stop, {})
    failed = {k: v for k, v in results.items() if v.startswith("fail")}
    assert not failed, failed
    skipped = {k for k, v in results.items() if v.startswith("skip")}
    assert skipped == UNSUPPORTED, skipped
    assert sorted(results) == sorted(json_vectors())
    assert all(v in {"pass", "known"} for k, v in results.items() if k not in UNSUPPORTED)
