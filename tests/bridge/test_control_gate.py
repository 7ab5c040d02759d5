"""The control API's front door over real HTTP: a request without a valid key is
answered 401 and an oversized one 413 before its body is read (the answer comes while
the client is still sending, and the daemon's memory does not grow), a chunked body is
cut off at the limit, and 405 names the allowed methods."""

from __future__ import annotations

import re
import select
import socket
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest

from encounters.moderation import TextFilter
from tests.support.control import bearer, make_keys, run_daemon

HUNDRED_MB = 100 * 1024 * 1024
CHUNK = b"x" * 65536


def rss_bytes() -> int:
    """This process's resident memory (the daemon runs in it)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@dataclass
class Sent:
    status: int
    body: bytes
    sent: int  # body bytes the client had sent when the answer came


def send_big_body(url: str, path: str, key: str | None, *, chunked: bool) -> Sent:
    """POST a 100 MB body (a declared length, or chunks) and stop sending as soon as
    the server answers or closes; blocking, for a worker thread."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        head = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json"]
        if key:
            head.append(f"Authorization: Bearer {key}")
        head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {HUNDRED_MB}")
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sent = 0
        frame = b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK
        while sent < HUNDRED_MB:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(CHUNK)
        sock.settimeout(10)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    head_text, _, body = answer.partition(b"\r\n\r\n")
    return Sent(int(head_text.split()[1]), body, sent)


async def big(url: str, path: str, key: str | None, *, chunked: bool = False) -> Sent:
    return await anyio.to_thread.run_sync(lambda: send_big_body(url, path, key, chunked=chunked))


@pytest.mark.anyio
async def test_big_bodies_are_refused_before_they_are_read(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        before = rss_bytes()
        no_key = await big(dm.http_url, "/personas/submit", None)
        bad_key = await big(dm.http_url, "/encounters", "ae_ak_000000000000_" + "x" * 32)
        declared = await big(dm.http_url, "/personas/submit", keys.creator)
        chunked = await big(dm.http_url, "/encounters", keys.admin, chunked=True)
        unknown_chunked = await big(dm.http_url, "/personas/submit", None, chunked=True)
        grown = rss_bytes() - before

    assert (no_key.status, bad_key.status, unknown_chunked.status) == (401, 401, 401)
    assert b"Authorization: Bearer <key>" in no_key.body
    assert (declared.status, chunked.status) == (413, 413)
    assert b"larger than 1048576 bytes" in declared.body
    for answer in (no_key, bad_key, declared, chunked, unknown_chunked):
        assert answer.sent < HUNDRED_MB  # answered while the client was still sending
    assert grown < 32 * 1024 * 1024  # none of the 500 MB sent was kept


@pytest.mark.anyio
async def test_bodies_within_the_limit_pass_and_405_names_the_allowed_methods(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            padded = {"name": "Aria", "description": "x" * 900}
            ok = await http.post("/personas/submit", json=padded, headers=bearer(keys.creator))
            assert ok.status_code == 201
            wrong = await http.delete("/personas/submit", headers=bearer(keys.creator))
            assert wrong.status_code == 405
            assert wrong.headers["allow"] == "POST"
            assert wrong.json()["error"]["message"] == "Method Not Allowed"
            assert (await http.get("/health")).status_code == 200
            no_key = await http.get("/personas")
            assert no_key.status_code == 401 and no_key.headers["www-authenticate"] == "Bearer"


@pytest.mark.anyio
async def test_the_docs_are_served_offline_and_need_no_key(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with (
        run_daemon(tmp_path / "d.db", text_filter) as dm,
        httpx.AsyncClient(base_url=dm.http_url) as http,
    ):
        page = await http.get("/docs")
        assert page.status_code == 200
        assets = re.findall(r"""(?:src|href)=["']?([^"' >]+)""", page.text)
        assert assets and all(a.startswith("/docs/static/") for a in assets), assets
        for asset in assets:
            assert (await http.get(asset)).status_code == 200, asset
        document = (await http.get("/openapi.json")).json()
        assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
        submit = document["paths"]["/encounters"]["post"]
        assert {"401", "403", "409", "413", "422"} <= set(submit["responses"])
        assert "objectives" in str(submit["requestBody"])
