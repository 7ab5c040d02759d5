"""The security headers a browser gets from the daemon (``headers.py``), read over real
HTTP from the daemon as ``ae bridge serve`` builds it: every page and every API answer
(refusals included) forbids framing, type sniffing and leaking its address in a
``Referer``; every page carries a Content-Security-Policy that runs only the daemon's
own scripts (no inline script, no eval); the web world's page may reach the edge's port
and nothing else; Swagger UI's one inline script is allowed by its hash alone. The
control API answers no cross-site read (no CORS), whatever ``Origin`` asks."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import httpx
import pytest

from encounters.moderation import TextFilter
from encounters_bridge.audio import AudioLinks
from encounters_bridge.keys import create_world_key
from encounters_bridge.studio import DIST
from tests.support.control import SERVER, bearer, make_keys, run_daemon

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def text_filter() -> TextFilter:
    return TextFilter.default()


def policy(response: httpx.Response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as ``{directive: [sources]}``."""
    found = response.headers.get_list("content-security-policy")
    assert len(found) == 1, f"{response.request.url}: one policy expected, got {found}"
    parts = (p.split() for p in found[0].split(";") if p.strip())
    return {p[0]: p[1:] for p in parts}


def assert_guarded(response: httpx.Response) -> dict[str, list[str]]:
    where = f"{response.request.method} {response.request.url.path}"
    assert response.headers.get("x-content-type-options") == "nosniff", where
    assert response.headers.get("x-frame-options") == "DENY", where
    assert response.headers.get("referrer-policy") == "no-referrer", where
    csp = policy(response)
    assert csp["frame-ancestors"] == ["'none'"], where
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"], where
    assert csp["default-src"] == ["'self'"], where
    scripts = csp["script-src"]
    assert "'self'" in scripts, where
    for loose in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"):
        assert loose not in scripts, f"{where}: script-src allows {loose}"
    return csp


async def test_every_page_and_answer_forbids_framing_sniffing_and_referers(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    assert (DIST / "index.html").is_file(), "build the studio first: make web"
    async with (
        run_daemon(tmp_path / "d.db", text_filter) as dm,
        httpx.AsyncClient(base_url=dm.http_url) as http,
    ):
        keys = await make_keys(dm.edge.store)
        pages = {
            "/studio/": "text/html",
            "/studio/queue": "text/html",  # a route of the app: the index again
            f"/play/{SERVER}": "text/html",
            "/docs": "text/html",
        }
        for path, kind in pages.items():
            r = await http.get(path)
            assert r.status_code == 200 and r.headers["content-type"].startswith(kind), path
            csp = assert_guarded(r)
            if path.startswith("/studio/"):  # the studio's page holds no inline script
                assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text), path
                assert csp["connect-src"] == ["'self'"]
        # the app's files, the API, its refusals and its errors carry them too
        index = (await http.get("/studio/")).text
        asset = re.search(r'src="(/studio/assets/[^"]+\.js)"', index)
        assert asset, index
        for r in (
            await http.get(asset[1]),
            await http.get("/health"),
            await http.get("/personas"),  # 401: no key
            await http.get("/personas", headers=bearer(keys.world)),  # 403
            await http.get("/no-such-route"),  # 404
            await http.post("/personas/submit", headers=bearer(keys.creator), json={}),  # 422
        ):
            assert_guarded(r)
        assert (await http.get("/personas")).status_code == 401


async def test_the_web_worlds_page_may_reach_the_edge_and_nothing_else(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with (
        run_daemon(tmp_path / "d.db", text_filter) as dm,
        httpx.AsyncClient(base_url=dm.http_url) as http,
    ):
        keys = await make_keys(dm.edge.store)
        await create_world_key(dm.edge.store, "web", "web", [SERVER])
        csp = assert_guarded(await http.get(f"/play/{SERVER}"))
        edge = f"ws://127.0.0.1:{dm.ws_port}"
        assert csp["connect-src"] == ["'self'", edge]
        # the link the page is given is one the policy lets it open
        r = await http.post(f"/web-world/{SERVER}/passes", headers=bearer(keys.creator))
        assert r.json()["wsUrl"].startswith(edge + "/")
        # behind a proxy: the proxy's wss address, and voices from the public address
        dm.service.public_url = "https://games.example.com"
        dm.service.audio_links = AudioLinks("https://voices.example.com:8443/")
        csp = assert_guarded(await http.get(f"/play/{SERVER}"))
        assert csp["connect-src"] == ["'self'", "wss://games.example.com"]
        assert csp["media-src"] == ["'self'", "blob:", "https://voices.example.com:8443"]
        r = await http.post(f"/web-world/{SERVER}/passes", headers=bearer(keys.creator))
        assert r.json()["wsUrl"].startswith("wss://games.example.com/")


async def test_swagger_ui_runs_its_own_inline_script_and_no_other(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with (
        run_daemon(tmp_path / "d.db", text_filter) as dm,
        httpx.AsyncClient(base_url=dm.http_url) as http,
    ):
        r = await http.get("/docs")
        csp = assert_guarded(r)
        inline = re.findall(r"<script>(.*?)</script>", r.text, re.S)
        assert len(inline) == 1 and "SwaggerUIBundle(" in inline[0]
        digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
        assert csp["script-src"] == ["'self'", f"'sha256-{digest}'"]


async def test_no_other_site_may_read_the_control_api(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    """A page on another site cannot read the API's answers in a visitor's browser: no
    ``Access-Control-Allow-*`` for any ``Origin``, and a preflight is not granted."""
    async with (
        run_daemon(tmp_path / "d.db", text_filter) as dm,
        httpx.AsyncClient(base_url=dm.http_url) as http,
    ):
        keys = await make_keys(dm.edge.store)
        evil = {"Origin": "https://evil.example"}
        r = await http.get("/personas", headers={**evil, **bearer(keys.admin)})
        assert r.status_code == 200
        assert not [h for h in r.headers if h.startswith("access-control-")], r.headers
        pre = await http.options("/personas/submit", headers={
            **evil, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        })  # fmt: skip
        assert "access-control-allow-origin" not in pre.headers
        assert pre.status_code in (401, 405), pre.status_code
