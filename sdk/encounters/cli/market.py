"""``ae market``: the marketplace of a running daemon (publish, search, show, install,
rate, report, bundles, Character Cards, and the admin's review steps), and two things
that need no daemon: ``ae market import BUNDLE`` (into the local library) and
``ae market card import CARD`` (a Character Card as a persona package file).

Listings are named ``ID`` or ``ID@VERSION``. What ``install`` receives is checked
against each item's content hash here too, before anything is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer

from ..client import EncountersClient
from ..engine import Engine
from ..jsonio import read_json_file
from ..marketplace import (
    CardError,
    InstallItem,
    card_to_json,
    content_hash,
    install_into,
    read_bundle,
    read_card,
)
from ..marketplace.cards import PNG_SIGNATURE, CardVersion, PersonaPackage
from ..marketplace.content import content_id
from .app import JsonFlag, app, fail, out, state
from .remote import Key, Url, remote, show

market_app = typer.Typer(help="Share and find encounters, templates, campaigns and personas.",
                         no_args_is_help=True)  # fmt: skip
card_app = typer.Typer(help="Character Cards (V2, V3; JSON or PNG) for personas.",
                       no_args_is_help=True)  # fmt: skip
market_app.add_typer(card_app, name="card")
app.add_typer(market_app, name="market")
DEFAULT_URL = "http://127.0.0.1:3001"
Ref = Annotated[str, typer.Argument(help="A listing id, or ID@VERSION.")]


def split_ref(ref: str) -> tuple[str, str | None]:
    listing, _, version = ref.partition("@")
    if not listing:
        raise fail(f"{ref!r} is not a listing: give ID or ID@VERSION")
    return listing, version or None


def submission_of(path: Path) -> dict[str, Any]:
    """A submission file, or a Character Card (PNG or JSON) made into a persona
    submission with its name, description and tags as the listing's."""
    raw = path.read_bytes() if path.is_file() else b""
    if not raw:
        raise fail(f"{path}: no such file, or it is empty")
    looks_like_card = raw.startswith(PNG_SIGNATURE) or b'"chara_card_v' in raw[:4096]
    if looks_like_card:
        try:
            package = read_card(raw)
        except CardError as exc:
            raise fail(f"{path}: {exc}") from None
        return {
            "kind": "persona",
            "meta": {"title": package.persona.name, "description": package.persona.description,
                     "tags": [t for t in package.tags if t.strip()][:20]},
            "content": package.model_dump(mode="json"),
        }  # fmt: skip
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise fail(f"{path}: a submission is a JSON object with kind, meta and content")
    return data


@market_app.command("publish")
def publish(
    file: Annotated[Path, typer.Argument(help="Submission JSON, or a Character Card.")],
    listing: Annotated[
        str | None, typer.Option("--listing", help="Add a version to this listing.")
    ] = None,
    version: Annotated[str | None, typer.Option(help="Version (default: the file's).")] = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Publish a listing (or a new version): moderated, validated, then pending or
    published per the daemon's policy."""
    submission = submission_of(file)
    if version:
        submission["version"] = version
    result = remote(url, key, lambda c: c.market_publish(submission, listing))
    out.print(f"{result['listing_id']}@{result['version']}  {result['status']}  "
              f"{result['content_hash']}", highlight=False)  # fmt: skip


@market_app.command("search")
def search(
    text: Annotated[str, typer.Argument(help="Words to find in title, description, tags.")] = "",
    kind: Annotated[str | None, typer.Option(help="encounter, template, campaign, persona")] = None,
    category: Annotated[str | None, typer.Option()] = None,
    world: Annotated[str | None, typer.Option(help="gmod, minecraft or web")] = None,
    language: Annotated[str | None, typer.Option(help="A language tag: en, de...")] = None,
    difficulty: Annotated[
        float | None, typer.Option(help="0..1; listings whose range has it")
    ] = None,
    min_rating: Annotated[float | None, typer.Option("--min-rating")] = None,
    sort: Annotated[str, typer.Option(help="new, top or downloads")] = "new",
    limit: Annotated[int, typer.Option(help="Results per page (1-100).")] = 20,
    cursor: Annotated[str | None, typer.Option(help="The cursor a page printed.")] = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
    as_json: JsonFlag = False,
) -> None:
    """Search published listings; prints a cursor for the next page."""
    query = {"text": text, "kind": kind, "category": category, "world": world,
             "language": language, "difficulty": difficulty, "min_rating": min_rating,
             "sort": sort, "limit": limit}  # fmt: skip
    page = remote(url, key, lambda c: c.market_search(cursor, **query))
    if as_json:
        show(page)
        return
    for item in page["items"]:
        rating = f"{item['rating']:.1f}★ ({item['ratings']})" if item["rating"] else "unrated"
        out.print(f"{item['id']}@{item['latest_version']}  {item['kind']:9}  "
                  f"{item['meta']['title']}  {rating}  {item['downloads']}↓",
                  highlight=False, soft_wrap=True)  # fmt: skip
    if not page["items"]:
        out.print("no listings found", highlight=False)
    if page["next_cursor"]:
        out.print(f"more: --cursor {page['next_cursor']}", highlight=False)


@market_app.command("show")
def show_listing(
    ref: Ref, url: Url = DEFAULT_URL, key: Key = None, as_json: JsonFlag = False
) -> None:
    """A listing and its version history."""
    listing_id, _ = split_ref(ref)

    async def work(client: EncountersClient) -> dict[str, Any]:
        found = await client.market_listing(listing_id)
        versions = await client.market_versions(listing_id)
        return {"listing": found, "versions": versions}

    result = remote(url, key, work)
    if as_json:
        show(result)
        return
    found = result["listing"]
    out.print(f"{found['id']}  {found['kind']}  {found['meta']['title']}  by {found['owner']}",
              highlight=False)  # fmt: skip
    if found.get("unlisted"):
        out.print(f"unlisted: {found['unlisted']}", highlight=False)
    for version in result["versions"]:
        note = f"  deprecated: {version['deprecated']}" if version.get("deprecated") else ""
        out.print(f"  {version['version']:10} {version['status']:9} {version['content_hash']}"
                  f"{note}", highlight=False)  # fmt: skip


def _checked(items: list[dict[str, Any]]) -> list[InstallItem]:
    """The items an install answered, each checked against its content hash."""
    checked = [InstallItem.model_validate(i) for i in items]
    for item in checked:
        if content_hash(item.content) != item.content_hash:
            raise fail(f"{item.listing_id}@{item.version}: the content received does not "
                       "match its content hash; nothing was written")  # fmt: skip
    return checked


@market_app.command("install")
def install(
    ref: Ref,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Also write the content files here.")
    ] = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Install a listing (and what it depends on) into your library on the daemon."""
    listing_id, version = split_ref(ref)
    result = remote(url, key, lambda c: c.market_install(listing_id, version))
    items = _checked(result["items"])
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for item in items:
            name = f"{item.kind}-{content_id(item.kind, item.content)}.json"
            (out_dir / name).write_text(json.dumps(item.content, indent=2, ensure_ascii=False))
    for line in result["installed"]:
        out.print(f"[green]✓[/green] {line}", highlight=False)


@market_app.command("export")
def export(ref: Ref, file: Annotated[Path, typer.Argument(help="The bundle (.zip) to write.")],
           url: Url = DEFAULT_URL, key: Key = None) -> None:  # fmt: skip
    """Write a listing version and its dependencies as one bundle file."""
    listing_id, version = split_ref(ref)
    data = remote(url, key, lambda c: c.market_bundle(listing_id, version))
    read_bundle(data)  # check what arrived before writing it
    file.write_bytes(data)
    out.print(f"{file}: {len(data)} bytes", highlight=False)


@market_app.command("import")
def import_bundle(
    file: Annotated[Path, typer.Argument(help="A bundle (.zip) from export.")],
    to_daemon: Annotated[
        bool, typer.Option("--to-daemon", help="Install on the daemon (--url) instead.")
    ] = False,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Install a bundle: into the local library (no daemon needed), or with
    --to-daemon into your library on a daemon."""
    if not file.is_file():
        raise fail(f"{file}: no such file")
    data = file.read_bytes()
    bundle = read_bundle(data)
    if to_daemon:
        installed = remote(url, key, lambda c: c.market_install_bundle(data))["installed"]
    else:

        async def local() -> list[str]:
            async with Engine(state.store_settings()) as engine:
                return await install_into(engine, bundle.items)

        installed = anyio.run(local)
    for line in installed:
        out.print(f"[green]✓[/green] {line}", highlight=False)


def _review(ref: str, action: str, body: Any, url: str, key: str | None) -> None:
    listing_id, version = split_ref(ref)
    if version is None:
        raise fail(f"{ref!r}: name the version, ID@VERSION")
    show(remote(url, key, lambda c: c.market_act(listing_id, f"versions/{version}/{action}",
                                                 body)))  # fmt: skip


@market_app.command("approve")
def approve(ref: Ref, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Publish a pending version (admin key)."""
    _review(ref, "approve", None, url, key)


@market_app.command("reject")
def reject(ref: Ref, reason: Annotated[str, typer.Option(help="Shown to the owner.")],
           url: Url = DEFAULT_URL, key: Key = None) -> None:  # fmt: skip
    """Refuse a pending version (admin key)."""
    _review(ref, "reject", {"reason": reason}, url, key)


@market_app.command("deprecate")
def deprecate(ref: Ref, note: Annotated[str, typer.Option(help="Why, and what to use.")] = "",
              url: Url = DEFAULT_URL, key: Key = None) -> None:  # fmt: skip
    """Deprecate one of your versions (still installable by exact version)."""
    _review(ref, "deprecate", {"note": note}, url, key)


@market_app.command("unlist")
def unlist(ref: Ref, reason: Annotated[str, typer.Option(help="Shown to the owner.")],
           url: Url = DEFAULT_URL, key: Key = None) -> None:  # fmt: skip
    """Take a listing out of search and installs (admin key)."""
    listing_id, _ = split_ref(ref)
    show(remote(url, key, lambda c: c.market_act(listing_id, "unlist", {"reason": reason})))


@market_app.command("rate")
def rate(
    ref: Ref,
    stars: Annotated[int, typer.Argument(help="1 to 5.")],
    text: Annotated[str, typer.Option(help="A review (moderated).")] = "",
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Rate a listing (your one rating; a new one replaces it)."""
    listing_id, _ = split_ref(ref)
    body = {"rating": stars, "text": text}
    show(remote(url, key, lambda c: c.market_act(listing_id, "ratings", body)))


@market_app.command("report")
def report(
    ref: Ref,
    reason: Annotated[str, typer.Option(help="What is wrong.")],
    review_user: Annotated[
        str | None, typer.Option("--review-user", help="Report this user's review instead.")
    ] = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Report abuse in a listing or one of its reviews."""
    listing_id, _ = split_ref(ref)
    body = {"reason": reason, "review_user": review_user}
    show(remote(url, key, lambda c: c.market_act(listing_id, "reports", body)))


@market_app.command("policy")
def policy(
    value: Annotated[str | None, typer.Argument(help="review or open (admin key)")] = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Show or set the publishing policy: review (admins approve) or open."""
    show(remote(url, key, lambda c: c.market_policy(value)))


@card_app.command("import")
def card_import(
    file: Annotated[Path, typer.Argument(help="A Character Card: PNG or JSON, V2 or V3.")],
    output: Annotated[Path, typer.Option("--out", "-o", help="The persona package to write.")],
) -> None:
    """Read a Character Card into a persona package (JSON), ready for ``publish``."""
    if not file.is_file():
        raise fail(f"{file}: no such file")
    try:
        package = read_card(file.read_bytes())
    except CardError as exc:
        raise fail(f"{file}: {exc}") from None
    output.write_text(package.model_dump_json(indent=2))
    out.print(f"{output}: persona {package.persona.name!r}", highlight=False)


@card_app.command("export")
def card_export(
    ref: Annotated[str, typer.Argument(help="A persona listing (ID[@VERSION]) or a package file.")],
    output: Annotated[Path, typer.Option("--out", "-o", help="The card to write.")],
    spec: Annotated[str, typer.Option(help="v2 or v3")] = "v3",
    png: Annotated[bool, typer.Option("--png", help="Write a PNG with the card inside.")] = False,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Write a persona as a Character Card, from a listing on the daemon or a local
    persona package file."""
    if spec not in ("v2", "v3"):
        raise fail(f"--spec {spec!r}: use v2 or v3")
    local = Path(ref)
    if local.is_file():
        from ..marketplace import card_to_png
        from ..validation import validate_model

        package = validate_model(PersonaPackage, read_json_file(local), "persona package")
        version: CardVersion = "v2" if spec == "v2" else "v3"
        if png:
            data = card_to_png(package, version)
        else:
            data = json.dumps(card_to_json(package, version), ensure_ascii=False).encode()
    else:
        listing_id, listing_version = split_ref(ref)
        fmt = "png" if png else "json"
        data = remote(url, key, lambda c: c.market_card(listing_id, spec, fmt, listing_version))
    output.write_bytes(data)
    out.print(f"{output}: {len(data)} bytes", highlight=False)
