"""The client's address behind trusted reverse proxies (``AE_BRIDGE_TRUSTED_PROXIES``):
the walk over ``X-Forwarded-For``, the setting, and the bad-key back-off of a real
daemon counting two clients behind one proxy apart."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from encounters.errors import ConfigError
from encounters.settings import Settings
from encounters_bridge.config import load_bridge_config
from encounters_bridge.daemon import Daemon
from encounters_bridge.forwarded import client_address, parse_networks
from encounters_bridge.frames import CloseCode
from encounters_bridge.keys import create_world_key

PROXIES = parse_networks("10.0.0.0/8, fd00::/8")


def via(peer: str, *headers: str) -> str:
    return client_address(peer, list(headers), PROXIES)


def test_an_untrusted_peer_is_the_client_whatever_its_header_says() -> None:
    assert via("203.0.113.9", "198.51.100.1") == "203.0.113.9"
    assert client_address("10.0.0.1", ["198.51.100.1"], ()) == "10.0.0.1"  # nothing trusted


def test_a_trusted_proxy_names_the_client() -> None:
    assert via("10.0.0.1", "198.51.100.1") == "198.51.100.1"
    assert via("10.0.0.1") == "10.0.0.1"  # no header: the proxy itself
    assert via("10.0.0.1", "", "  ") == "10.0.0.1"  # empty headers: none


def test_a_spoofed_leftmost_entry_never_wins() -> None:
    # the client wrote "192.0.2.66"; the proxy appended the address it saw
    assert via("10.0.0.1", "192.0.2.66, 198.51.100.1") == "198.51.100.1"
    assert via("10.0.0.1", "192.0.2.66", "198.51.100.1") == "198.51.100.1"  # two lines
    # a client claiming to be a trusted proxy still stops the walk at its own address
    assert via("10.0.0.1", "192.0.2.66, 10.0.0.7, 198.51.100.1") == "198.51.100.1"


def test_several_trusted_proxies_are_skipped() -> None:
    assert via("10.0.0.1", "198.51.100.1, 10.0.0.3,10.0.0.2") == "198.51.100.1"
    assert via("10.0.0.1", "10.0.0.3, 10.0.0.2") == "10.0.0.3"  # all trusted: the farthest


def test_garbage_stops_the_walk_at_the_last_trusted_hop() -> None:
    assert via("10.0.0.1", "198.51.100.1, garbage") == "10.0.0.1"
    assert via("10.0.0.1", "198.51.100.1, garbage, 10.0.0.2") == "10.0.0.2"
    assert via("10.0.0.1", "198.51.100.1,,10.0.0.2") == "10.0.0.2"  # an empty entry
    assert via("10.0.0.1", "198.51.100.1:4321") == "10.0.0.1"  # a port: not an address
    assert via("10.0.0.1", "unknown") == "10.0.0.1"
    assert client_address("", ["198.51.100.1"], PROXIES) == ""  # no IP peer at all


def test_ipv6_and_ipv4_mapped_addresses() -> None:
    assert via("fd00::1", "2001:DB8:0:0::7") == "2001:db8::7"
    assert via("fd00::1", "2001:db8::7, fd00::2") == "2001:db8::7"
    assert via("::ffff:10.0.0.1", "::ffff:198.51.100.1") == "198.51.100.1"
    assert via("::ffff:203.0.113.9", "198.51.100.1") == "203.0.113.9"  # untrusted, unmapped
    assert via("10.0.0.1", "::ffff:10.0.0.2, 10.0.0.3") == "10.0.0.2"  # a mapped hop is trusted
    mapped = parse_networks("::ffff:10.0.0.0/104")
    assert mapped == parse_networks("10.0.0.0/8")
    assert client_address("10.1.2.3", ["198.51.100.1"], mapped) == "198.51.100.1"


def test_the_setting_takes_addresses_and_networks_and_names_a_bad_entry(tmp_path: Path) -> None:
    cfg = load_bridge_config(env={"AE_BRIDGE_TRUSTED_PROXIES": "127.0.0.1, fd00::/8,"})
    assert [str(n) for n in cfg.trusted_proxies] == ["127.0.0.1/32", "fd00::/8"]
    assert load_bridge_config().trusted_proxies == ()
    toml = tmp_path / "bridge.toml"
    toml.write_text('[bridge]\ntrusted_proxies = ["10.0.0.0/8"]\n', encoding="utf-8")
    assert [str(n) for n in load_bridge_config(toml).trusted_proxies] == ["10.0.0.0/8"]
    for bad in ("10.0.0.0/8, nginx", "10.0.0.1/8", "10.0.0.0/33"):
        with pytest.raises(ConfigError) as caught:
            load_bridge_config(env={"AE_BRIDGE_TRUSTED_PROXIES": bad})
        message = str(caught.value)
        assert "AE_BRIDGE_TRUSTED_PROXIES" in message
        assert repr(bad.split(", ")[-1]) in message


# -- a real daemon -------------------------------------------------------------------------

BAD_KEY = "ae_wk_0123456789ab_" + "x" * 32


async def try_key(url: str, key: str, forwarded_for: str) -> int | None:
    """Identify with ``key``, sent as a proxy would (``X-Forwarded-For``); the close
    code, or None when the link is ready."""
    async with connect(f"{url}?encoding=json", ping_interval=None,
                       additional_headers={"X-Forwarded-For": forwarded_for}) as ws:  # fmt: skip
        with anyio.fail_after(5):
            await ws.recv()  # hello
            await ws.send(json.dumps({"op": "identify", "d": {
                "protocol": 1, "world": "web", "server_id": "srv", "key": key,
                "capabilities": ["chat"]}}))  # fmt: skip
            try:
                if json.loads(await ws.recv())["op"] == "ready":
                    return None
                async for _ in ws:
                    pass
            except ConnectionClosed:
                pass
    return ws.close_code


@pytest.mark.anyio
@pytest.mark.parametrize("trusted", ["127.0.0.1", ""])
async def test_the_back_off_counts_clients_behind_a_trusted_proxy_apart(
    tmp_path: Path, trusted: str
) -> None:
    """Trusted: a guesser behind the proxy is blocked while another client behind it
    still links. Not trusted: the header is ignored, so made-up addresses do not
    dodge the back-off."""
    cfg = load_bridge_config(env={"AE_BRIDGE_TRUSTED_PROXIES": trusted})
    local = cfg.model_copy(update={"port": 0, "http_port": 0})
    async with Daemon.open(Settings(data_dir=tmp_path), local) as daemon:
        _, key = await create_world_key(daemon.records, "web world", "web")
        codes = [await try_key(daemon.ws_url, BAD_KEY, f"198.51.100.{10 + i}, 203.0.113.1")
                 for i in range(12)]  # fmt: skip
        # five failures may come at once; the sixth starts the back-off
        assert codes == [CloseCode.AUTH_FAILED] * 6 + [CloseCode.RATE_LIMITED] * 6
        other = await try_key(daemon.ws_url, key, "203.0.113.2")
        assert other == (None if trusted else CloseCode.RATE_LIMITED)
