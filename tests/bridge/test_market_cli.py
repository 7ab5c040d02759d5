"""``ae market`` against a running daemon, and its two commands that need none
(importing a bundle into the local library, reading a Character Card)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal

from encounters.marketplace import read_card
from encounters.moderation import TextFilter
from tests.conftest import encounter_dict
from tests.sdk.marketplace.helpers import meta
from tests.sdk.marketplace.test_cards import V2_CARD, png_with
from tests.support.control import Keys, ae, make_keys, run_daemon, write


@dataclass
class Running:
    url: str
    keys: Keys


@pytest.fixture(scope="module")
def text_filter() -> TextFilter:
    return TextFilter.default()


@pytest.fixture
def daemon(tmp_path: Path, text_filter: TextFilter) -> Iterator[Running]:
    """A daemon on an event loop in another thread: the commands run their own."""
    with start_blocking_portal("asyncio") as portal:
        running = portal.wrap_async_context_manager(run_daemon(tmp_path / "d.db", text_filter))
        with running as dm:
            yield Running(dm.http_url, portal.call(make_keys, dm.edge.store))


def test_ae_market_publish_search_rate_install_and_share(daemon: Running, tmp_path: Path) -> None:
    url, keys = daemon.url, daemon.keys
    creator = ["--url", url, "--key", keys.creator]
    other = ["--url", url, "--key", keys.other]
    admin = ["--url", url, "--key", keys.admin]

    submission = {"kind": "encounter", "meta": meta(), "content": encounter_dict()}
    code, out, err = ae("market", "publish", str(write(tmp_path / "enc.json", submission)),
                        *creator)  # fmt: skip
    assert code == 0, out + err
    listing_id, status = out.split()[0].split("@")[0], out.split()[1]
    assert status == "pending"

    code, out, _ = ae("market", "search", "bandits", *other)
    assert (code, out.strip()) == (0, "no listings found")
    code, out, _ = ae("market", "approve", f"{listing_id}@1.0.0", *admin)
    assert code == 0 and json.loads(out)["status"] == "published"

    code, out, _ = ae("market", "search", "bandits", "--world", "minecraft", *other)
    assert code == 0 and listing_id in out and "Bandits at the Bridge" in out
    code, out, _ = ae("market", "search", "bandits", "--world", "gmod", "--kind", "encounter",
                      *other)  # fmt: skip
    assert out.strip() == "no listings found"

    bad = {**submission, "meta": meta(description="the fucking bridge")}
    code, _, err = ae("market", "publish", str(write(tmp_path / "bad.json", bad)), *creator)
    assert code == 1 and "meta.description: refused by moderation" in err

    code, out, _ = ae("market", "rate", listing_id, "4", "--text", "Solid fight", *other)
    assert code == 0 and json.loads(out)["rating"] == 4
    code, out, _ = ae("market", "install", listing_id, "--out", str(tmp_path / "lib"), *other)
    assert code == 0 and "✓ encounter:enc_test" in out
    installed = json.loads((tmp_path / "lib" / "encounter-enc_test.json").read_text())
    assert installed["title"] == "Bandits at the Bridge"
    code, out, _ = ae("market", "show", listing_id, "--json", *other)
    shown = json.loads(out)
    assert (shown["listing"]["downloads"], shown["listing"]["ratings"]) == (1, 1)
    assert [v["version"] for v in shown["versions"]] == ["1.0.0"]

    # a bundle out of the daemon and into a local library, no daemon involved
    bundle = tmp_path / "bandits.zip"
    code, out, _ = ae("market", "export", f"{listing_id}@1.0.0", str(bundle), *other)
    assert code == 0 and bundle.stat().st_size > 0
    local = tmp_path / "local-data"
    code, out, err = ae("--data-dir", str(local), "market", "import", str(bundle))
    assert code == 0, out + err
    assert "✓ encounter:enc_test" in out
    code, out, _ = ae("--data-dir", str(local), "encounters", "list", "--json")
    assert code == 0 and "enc_test" in out

    code, out, _ = ae("market", "report", listing_id, "--reason", "misleading title", *other)
    assert code == 0 and json.loads(out)["id"].startswith("rep_")
    code, _, err = ae("market", "unlist", listing_id, "--reason", "x", *creator)
    assert code == 1 and "admin" in err
    code, out, _ = ae("market", "unlist", listing_id, "--reason", "stolen", *admin)
    assert code == 0 and json.loads(out)["unlisted"] == "stolen"
    code, _, err = ae("market", "install", listing_id, *other)
    assert code == 1 and "no listing" in err


def test_ae_market_cards_in_and_out(daemon: Running, tmp_path: Path) -> None:
    url, keys = daemon.url, daemon.keys
    admin = ["--url", url, "--key", keys.admin]
    png = tmp_path / "marta.png"
    png.write_bytes(png_with([(b"chara", base64.b64encode(json.dumps(V2_CARD).encode()))]))

    package = tmp_path / "marta.json"
    code, out, err = ae("market", "card", "import", str(png), "--out", str(package))
    assert code == 0, out + err
    assert json.loads(package.read_text())["memory"]["personality"] == "gruff, loyal, dry humour"
    code, _, err = ae("market", "card", "import", str(tmp_path / "marta.json"), "-o",
                      str(tmp_path / "x.json"))  # fmt: skip
    assert code == 1 and "unknown card spec" in err  # a package is not a card

    # a card publishes straight away as a persona listing (admins publish at once)
    code, out, err = ae("market", "publish", str(png), *admin)
    assert code == 0, out + err
    listing_id = out.split("@")[0]
    card = tmp_path / "out.png"
    code, _, err = ae("market", "card", "export", listing_id, "--spec", "v2", "--png",
                      "-o", str(card), *admin)  # fmt: skip
    assert code == 0, err
    assert read_card(card.read_bytes()).memory.scenario == V2_CARD["data"]["scenario"]
    local_card = tmp_path / "local.json"
    code, _, _ = ae("market", "card", "export", str(package), "-o", str(local_card))
    assert json.loads(local_card.read_text())["spec"] == "chara_card_v3"
