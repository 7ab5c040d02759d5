"""Bundles: a listing and its dependencies as one zip, read back checked; unsafe or
damaged bundles are refused with a line that says what is wrong."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from encounters.engine import Engine
from encounters.marketplace import BundleError, install_into, read_bundle, write_bundle
from encounters.marketplace.bundle import MAX_MEMBER_BYTES
from encounters.moderation import TextFilter
from encounters.settings import load_settings

from .helpers import ADMIN, campaign_submission, encounter_submission, open_market

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def text_filter() -> TextFilter:
    return TextFilter.default()


async def campaign_bundle(tmp_path: Path, text_filter: TextFilter) -> bytes:
    async with open_market(tmp_path / "m.db", text_filter) as (market, _):
        enc = (await market.publish(encounter_submission(), ADMIN)).listing_id
        camp = await market.publish(campaign_submission(enc), ADMIN)
        items = await market.resolve(camp.listing_id)
        return write_bundle(camp.listing_id, "campaign", camp.version, camp.meta, items)


def rezip(raw: bytes, change: dict[str, bytes | None]) -> bytes:
    """``raw`` with members replaced (bytes), removed (None) or added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename in change:
                continue
            dst.writestr(info.filename, src.read(info))
        for name, data in change.items():
            if data is not None:
                dst.writestr(name, data)
    return out.getvalue()


async def test_a_bundle_round_trips_into_a_library_without_a_marketplace(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    raw = await campaign_bundle(tmp_path, text_filter)
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        licence = zf.read("LICENCE.txt").decode()
    assert {"manifest.json", "LICENCE.txt"} <= names
    assert manifest["format"] == "ae-market-bundle" and manifest["kind"] == "campaign"
    assert [i["kind"] for i in manifest["items"]] == ["encounter", "campaign"]
    assert all(i["content_hash"].startswith("sha256:") for i in manifest["items"])
    assert "CC-BY-4.0" in licence

    bundle = read_bundle(raw)
    assert [i.kind for i in bundle.items] == ["encounter", "campaign"]
    async with Engine(load_settings(store="memory")) as engine:
        assert await install_into(engine, bundle.items) == ["encounter:enc_test", "campaign:saga"]
        assert (await engine.campaigns.get_campaign("saga")).name == "The Bridge Saga"


async def test_unsafe_and_damaged_bundles_are_refused(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    raw = await campaign_bundle(tmp_path, text_filter)
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(raw)).read("manifest.json"))
    first = manifest["items"][0]["path"]

    for evil in ("../evil.json", "/etc/cron.d/x", "content/../../x", "C:/x", "a\\..\\b"):
        with pytest.raises(BundleError, match="unsafe path"):
            read_bundle(rezip(raw, {evil: b"{}"}))
    with pytest.raises(BundleError, match=f"{first}: its SHA-256 does not match"):
        read_bundle(rezip(raw, {first: b'{"id": "enc_test"}'}))
    with pytest.raises(BundleError, match=r"unpacks to more than|bytes; members may hold"):
        read_bundle(rezip(raw, {"content/huge.json": b" " * (MAX_MEMBER_BYTES + 1)}))
    with pytest.raises(BundleError, match=r"'notes\.txt' is not in the manifest"):
        read_bundle(rezip(raw, {"notes.txt": b"hello"}))
    with pytest.raises(BundleError, match="listed in the manifest but missing"):
        read_bundle(rezip(raw, {first: None}))
    with pytest.raises(BundleError, match=r"manifest\.json is missing"):
        read_bundle(rezip(raw, {"manifest.json": None}))
    with pytest.raises(BundleError, match="not a zip archive"):
        read_bundle(b"PK\x03\x04 not really")

    # a consistent bundle whose content hash was recomputed by hand still fails the
    # manifest's content hash
    tampered = dict(manifest)
    tampered["items"] = [dict(manifest["items"][0], content_hash="sha256:" + "0" * 64),
                         manifest["items"][1]]  # fmt: skip
    with pytest.raises(BundleError, match="content hash does not match"):
        read_bundle(rezip(raw, {"manifest.json": json.dumps(tampered).encode()}))
