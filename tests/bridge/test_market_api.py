"""The marketplace over the control API, on a real daemon over real HTTP: publish ->
moderation -> review -> search with filters and stable pages -> rate -> install (with
dependencies, into the caller's library), version history, deprecation, unlisting,
abuse reports in the metrics, bundles (moderated like a publish) and Character Cards."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from encounters.marketplace import InstallItem, read_card, write_bundle
from encounters.marketplace.content import content_hash, validate_content
from encounters.marketplace.models import Kind, ListingMeta
from encounters.moderation import TextFilter
from tests.conftest import encounter_dict
from tests.sdk.marketplace.helpers import meta
from tests.sdk.marketplace.test_cards import V3_CARD, png_with
from tests.support.control import Keys, bearer, make_keys, run_daemon, template_dict

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def text_filter() -> TextFilter:
    return TextFilter.default()


def submission(enc_id: str, **over: Any) -> dict[str, Any]:
    return {"kind": "encounter", "meta": meta(**over), "content": encounter_dict(id=enc_id)}


def errors_of(r: httpx.Response) -> list[str]:
    errors: list[str] = r.json()["error"]["errors"]
    return errors


async def ids(http: httpx.AsyncClient, key: str, **params: Any) -> list[str]:
    r = await http.get("/market/search", params=params, headers=bearer(key))
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["items"]]


async def test_publish_review_search_rate_install_on_a_daemon(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys: Keys = await make_keys(dm.edge.store)
        alice, bob, admin, world = (bearer(keys.creator), bearer(keys.other),
                                    bearer(keys.admin), bearer(keys.world))  # fmt: skip
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            # moderation and validation, with the field named
            bad = submission("enc_a", description="Kill the fucking bandits")
            r = await http.post("/market/listings", json=bad, headers=alice)
            assert r.status_code == 422
            assert errors_of(r)[0].startswith("meta.description: refused by moderation")
            r = await http.post("/market/listings", json=submission("enc_a"), headers=world)
            assert r.status_code == 403  # game servers do not publish

            # review policy: pending until an admin approves
            r = await http.post("/market/listings", json=submission("enc_a"), headers=alice)
            assert r.status_code == 201, r.text
            assert r.json()["status"] == "pending"
            lid = r.json()["listing_id"]
            assert await ids(http, keys.world) == []
            assert (await http.get(f"/market/listings/{lid}", headers=bob)).status_code == 404
            assert (await http.get(f"/market/listings/{lid}", headers=alice)).status_code == 200
            assert (await http.get("/market/pending", headers=alice)).status_code == 403
            pending = (await http.get("/market/pending", headers=admin)).json()
            assert [p["listing_id"] for p in pending] == [lid]
            r = await http.post(f"/market/listings/{lid}/versions/1.0.0/approve", headers=admin)
            assert r.json()["status"] == "published"
            assert await ids(http, keys.world, text="bandits") == [lid]

            # the open policy publishes at once; filters and pages
            r = await http.put("/market/policy", json={"policy": "open"}, headers=admin)
            assert r.json() == {"policy": "open"}
            gmod = (await http.post("/market/listings", headers=bob, json=submission(
                "enc_g", title="Garage Heist", worlds=["gmod"], languages=["de"],
                category="puzzle"))).json()["listing_id"]  # fmt: skip
            assert await ids(http, keys.world, world="gmod") == [gmod]
            assert await ids(http, keys.world, language="de", kind="encounter") == [gmod]
            assert await ids(http, keys.world, category="combat") == [lid]
            r = await http.get("/market/search", params={"sort": "sideways"}, headers=world)
            assert r.status_code == 422

            seen: list[str] = []
            page = (await http.get("/market/search", params={"limit": 1}, headers=world)).json()
            seen += [i["id"] for i in page["items"]]
            more = await http.post("/market/listings", headers=bob,
                                   json=submission("enc_n", title="Night Patrol"))  # fmt: skip
            assert more.status_code == 201
            while page["next_cursor"]:
                page = (await http.get("/market/search", headers=world, params={
                    "limit": 1, "cursor": page["next_cursor"]})).json()  # fmt: skip
                seen += [i["id"] for i in page["items"]]
            assert seen == [gmod, lid]  # the one published meanwhile sorts first: not repeated
            r = await http.get("/market/search", headers=world,
                               params={"limit": 1, "cursor": "garbage"})  # fmt: skip
            assert r.status_code == 422 and "cursor" in errors_of(r)[0]

            # ratings: players through their game server, creators with their key
            r = await http.post(f"/market/listings/{lid}/ratings", json={"rating": 5},
                                headers=world)  # fmt: skip
            assert r.status_code == 422 and errors_of(r)[0].startswith("player: required")
            for who, body in (
                (world, {"rating": 5, "player": "steve", "text": "Great fight"}),
                (world, {"rating": 3, "player": "alex"}),
                (bob, {"rating": 4}),
                (world, {"rating": 4, "player": "steve"}),
            ):  # steve again
                r = await http.post(f"/market/listings/{lid}/ratings", json=body, headers=who)
                assert r.status_code == 201, r.text
            r = await http.post(f"/market/listings/{lid}/ratings", json={"rating": 5},
                                headers=alice)  # fmt: skip
            assert r.status_code == 403
            listing = (await http.get(f"/market/listings/{lid}", headers=world)).json()
            assert (listing["ratings"], round(listing["rating"], 2)) == (3, 3.67)
            users = {r["user"] for r in (await http.get(f"/market/listings/{lid}/reviews",
                                                        headers=bob)).json()}  # fmt: skip
            # a player is scoped by its game server's owner tag (as its NPC memory is)
            assert {u.rsplit("/", 1)[1] for u in users if u.startswith("server:web:")} == {
                "steve",
                "alex",
            }
            assert len(users) == 3  # steve's second rating replaced his first
            alex = next(u for u in users if u.endswith("/alex"))

            # install into the caller's library: bob now owns a copy he can read
            r = await http.post(f"/market/listings/{lid}/install", headers=bob)
            assert r.status_code == 200, r.text
            assert r.json()["installed"] == ["encounter:enc_a"]
            assert (await http.get("/encounters/enc_a", headers=bob)).status_code == 200
            assert (await http.get(f"/market/listings/{lid}", headers=bob)).json()["downloads"] == 1

            # a campaign pulls its encounter
            campaign = {"kind": "campaign", "meta": meta(title="Saga", category="story"),
                        "content": {"id": "saga", "name": "Saga",
                                    "steps": [{"encounter_id": "enc_a"}]},
                        "dependencies": [{"listing": lid, "version": "1.0.0"}]}  # fmt: skip
            camp = (await http.post("/market/listings", json=campaign, headers=alice)).json()
            r = await http.post(f"/market/listings/{camp['listing_id']}/install", headers=world)
            assert r.json()["installed"] == ["encounter:enc_a", "campaign:saga"]

            # version history: immutable, semantic, the owner's
            v2 = submission("enc_a", title="Bandits Return")
            r = await http.post(f"/market/listings/{lid}/versions",
                                json={**v2, "version": "1.0.0"}, headers=alice)  # fmt: skip
            assert r.status_code == 409 and "never change" in r.json()["error"]["message"]
            r = await http.post(f"/market/listings/{lid}/versions",
                                json={**v2, "version": "1.1.0"}, headers=bob)  # fmt: skip
            assert r.status_code == 403
            r = await http.post(f"/market/listings/{lid}/versions",
                                json={**v2, "version": "1.1.0"}, headers=alice)  # fmt: skip
            assert r.status_code == 201
            history = (await http.get(f"/market/listings/{lid}/versions", headers=world)).json()
            assert [(v["version"], v["meta"]["title"]) for v in history] == [
                ("1.1.0", "Bandits Return"),
                ("1.0.0", "Bandits at the Bridge"),
            ]
            r = await http.post(f"/market/listings/{lid}/versions/1.0.0/deprecate",
                                json={"note": "use 1.1.0"}, headers=alice)  # fmt: skip
            assert r.json()["deprecated"] == "use 1.1.0"

            # abuse reports feed the platform abuse rate
            r = await http.post(f"/market/listings/{lid}/reports", headers=world,
                                json={"reason": "rude review", "review_user": alex,
                                      "player": "steve"})  # fmt: skip
            assert r.status_code == 201, r.text
            text = (await http.get("/metrics", headers=admin)).text
            assert "ae_window_abuse_reports 1" in text

            # unlisting: admins only, with a reason; gone from search and installs
            r = await http.post(f"/market/listings/{lid}/unlist", json={"reason": "x"},
                                headers=alice)  # fmt: skip
            assert r.status_code == 403
            r = await http.post(f"/market/listings/{lid}/unlist",
                                json={"reason": "stolen content"}, headers=admin)  # fmt: skip
            assert r.json()["unlisted"] == "stolen content"
            assert lid not in await ids(http, keys.world)
            assert (await http.post(f"/market/listings/{lid}/install",
                                    headers=world)).status_code == 404  # fmt: skip
            shown = (await http.get(f"/market/listings/{lid}", headers=alice)).json()
            assert shown["unlisted"] == "stolen content"
            # its reviews stay readable for the owner and admins (the studio's detail
            # view), and are hidden from everyone else like the listing
            for who, status in ((alice, 200), (admin, 200), (world, 404)):
                r = await http.get(f"/market/listings/{lid}/reviews", headers=who)
                assert r.status_code == status, r.text


async def test_bundles_and_character_cards_over_the_api(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        alice, bob, admin = bearer(keys.creator), bearer(keys.other), bearer(keys.admin)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            # a Character Card (PNG) read into a package and published as a persona
            png = png_with([(b"ccv3", base64.b64encode(json.dumps(V3_CARD).encode()))])
            r = await http.post("/market/cards/read", content=png, headers=alice)
            assert r.status_code == 200, r.text
            package = r.json()
            assert package["persona"]["name"] == "Marta"
            body = {"kind": "persona", "meta": meta(title="Marta the Ferrywoman",
                                                    category="companion", tags=["ferry"]),
                    "content": package}  # fmt: skip
            r = await http.post("/market/listings", json=body, headers=admin)
            assert r.status_code == 201, r.text
            lid = r.json()["listing_id"]
            assert (await http.get(f"/market/listings/{lid}", headers=bob)).json()[
                "reputation"
            ] == 50.0

            for spec in ("v2", "v3"):
                r = await http.get(f"/market/listings/{lid}/card",
                                   params={"spec": spec, "format": "png"}, headers=bob)  # fmt: skip
                assert r.headers["content-type"] == "image/png"
                assert read_card(r.content).memory.first_message.startswith("Fare's two coins")
            card = (await http.get(f"/market/listings/{lid}/card", headers=bob)).json()
            assert card["spec"] == "chara_card_v3"
            assert card["data"]["nickname"] == "Old Marta"
            r = await http.post("/market/cards/read", content=b"GIF89a", headers=alice)
            assert r.status_code == 422 and "not a PNG and not JSON" in r.json()["error"]["message"]

            # a bundle of an encounter, installed by another creator without the listing
            r = await http.post("/market/listings", headers=admin, json={
                "kind": "encounter", "meta": meta(), "content": encounter_dict()})  # fmt: skip
            enc = r.json()["listing_id"]
            r = await http.get(f"/market/listings/{enc}/bundle", headers=alice)
            assert r.headers["content-type"] == "application/zip"
            bundle = r.content
            r = await http.post("/market/bundles/install", content=bundle, headers=bob)
            assert r.status_code == 200, r.text
            assert r.json()["installed"] == ["encounter:enc_test"]
            assert (await http.get("/encounters/enc_test", headers=bob)).status_code == 200
            r = await http.post("/market/bundles/install", content=bundle, headers=alice)
            assert r.status_code == 409  # bob owns enc_test in this daemon now

            evil = io.BytesIO()
            with zipfile.ZipFile(io.BytesIO(bundle)) as src, zipfile.ZipFile(evil, "w") as dst:
                for info in src.infolist():
                    dst.writestr(info.filename, src.read(info))
                dst.writestr("../../outside.json", b"{}")
            r = await http.post("/market/bundles/install", content=evil.getvalue(), headers=bob)
            assert r.status_code == 422 and "unsafe path" in r.json()["error"]["message"]


def hand_made_bundle(kind: Kind, content: dict[str, Any]) -> bytes:
    """A bundle anyone can write without the marketplace: whole (its hashes match), and
    never moderated by a publish."""
    canonical = validate_content(kind, content)
    item = InstallItem(listing_id="lst_hand", kind=kind, version="1.0.0", content=canonical,
                       content_hash=content_hash(canonical), licence="CC-BY-4.0")  # fmt: skip
    return write_bundle("lst_hand", kind, "1.0.0", ListingMeta.model_validate(meta()), [item])


async def test_a_hand_made_bundle_is_moderated_before_anything_is_installed(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys: Keys = await make_keys(dm.edge.store)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            bad = hand_made_bundle("encounter", encounter_dict(
                id="enc_hand", title="A fucking cunt of a quest"))  # fmt: skip
            for key in (keys.creator, keys.world):
                r = await http.post("/market/bundles/install", content=bad, headers=bearer(key))
                assert r.status_code == 422, r.text
                assert r.json()["error"]["message"] == "invalid encounter of lst_hand@1.0.0"
                assert errors_of(r)[0].startswith("title: refused by moderation")
            r = await http.get("/encounters/enc_hand", headers=bearer(keys.admin))
            assert r.status_code == 404  # game servers read every encounter: none stored

            template = {**template_dict(), "description": "Kill yourself, {{who}}."}
            r = await http.post("/market/bundles/install", headers=bearer(keys.creator),
                                content=hand_made_bundle("template", template))  # fmt: skip
            assert r.status_code == 422 and errors_of(r)[0].startswith("description: refused")
            ids = {
                t["id"] for t in (await http.get("/templates", headers=bearer(keys.world))).json()
            }
            assert template["id"] not in ids

            good = hand_made_bundle("encounter", encounter_dict(id="enc_hand"))
            r = await http.post(
                "/market/bundles/install", content=good, headers=bearer(keys.creator)
            )
            assert r.status_code == 200 and r.json()["installed"] == ["encounter:enc_hand"]


async def test_cards_and_bundles_nested_past_what_json_can_read_are_422_not_500(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    deep = '{"a":' * 5000 + "1" + "}" * 5000  # 30 kB: far past Python's recursion limit
    content = deep.encode()
    manifest = {
        "format": "ae-market-bundle", "format_version": 1, "listing_id": "lst_deep",
        "kind": "encounter", "version": "1.0.0", "meta": meta(),
        "items": [{"listing_id": "lst_deep", "kind": "encounter", "version": "1.0.0",
                   "licence": "CC-BY-4.0", "path": "content/1.json", "size": len(content),
                   "sha256": hashlib.sha256(content).hexdigest(), "content_hash": "x"}],
    }  # fmt: skip

    def zipped(files: dict[str, bytes]) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            for name, data in files.items():
                z.writestr(name, data)
        return out.getvalue()

    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys: Keys = await make_keys(dm.edge.store)
        alice = bearer(keys.creator)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            for path, body, message in (
                ("/market/cards/read", content, "the card is JSON nested too deeply to read"),
                ("/market/bundles/install", zipped({"manifest.json": content}),
                 "manifest.json: JSON nested too deeply to read"),
                ("/market/bundles/install", zipped({
                    "manifest.json": json.dumps(manifest).encode(), "content/1.json": content}),
                 "content/1.json: JSON nested too deeply to read"),
            ):  # fmt: skip
                r = await http.post(path, content=body, headers=alice)
                assert r.status_code == 422, r.text
                assert r.json()["error"]["message"] == message
