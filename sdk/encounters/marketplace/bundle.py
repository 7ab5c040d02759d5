"""Bundles: one listing version and its dependencies as a single zip file, so content
can be shared without a marketplace.

Layout: ``manifest.json`` (format, the listing's metadata, and per item its listing,
kind, version, licence, path, size, SHA-256 of the file and content hash),
``LICENCE.txt`` (the licences) and ``content/<n>-<kind>-<listing>.json`` per item,
dependencies first.

Reading trusts nothing: a member whose path leaves the bundle (absolute, ``..``,
backslashes, drive letters), a member over :data:`MAX_MEMBER_BYTES` (counted while
reading, whatever the zip header claims), more than :data:`MAX_MEMBERS` members or
:data:`MAX_TOTAL_BYTES` in all, a member the manifest does not list, a file or
content hash that does not match, or JSON nested past what Python's parser reads is
refused with :class:`BundleError` naming it.
Nothing is extracted to disk.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
import zlib
from typing import Any

from pydantic import BaseModel, ValidationError

from ..validation import field_errors
from .content import canonical_json, content_hash, validate_content
from .errors import BundleError
from .models import InstallItem, Kind, ListingMeta

FORMAT = "ae-market-bundle"
FORMAT_VERSION = 1
MAX_MEMBERS = 256
MAX_MEMBER_BYTES = 2_000_000
MAX_TOTAL_BYTES = 16_000_000
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.:@-]+)*$")


class BundleItem(BaseModel):
    listing_id: str
    kind: Kind
    version: str
    licence: str
    path: str
    size: int
    sha256: str
    content_hash: str


class Manifest(BaseModel):
    format: str
    format_version: int
    listing_id: str
    kind: Kind
    version: str
    meta: ListingMeta
    items: list[BundleItem]


class Bundle(BaseModel):
    """A bundle read back: its manifest and the items (dependencies first)."""

    manifest: Manifest
    items: list[InstallItem]


def write_bundle(
    listing_id: str, kind: Kind, version: str, meta: ListingMeta, items: list[InstallItem]
) -> bytes:
    """The zip bytes of ``items`` (the listing's own item last)."""
    buffer = io.BytesIO()
    entries: list[BundleItem] = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, item in enumerate(items):
            raw = canonical_json(item.content)
            path = f"content/{n:03d}-{item.kind}-{item.listing_id}.json"
            zf.writestr(path, raw)
            entries.append(
                BundleItem(
                    listing_id=item.listing_id,
                    kind=item.kind,
                    version=item.version,
                    licence=item.licence,
                    path=path,
                    size=len(raw),
                    sha256=hashlib.sha256(raw).hexdigest(),
                    content_hash=item.content_hash,
                )
            )
        manifest = Manifest(
            format=FORMAT,
            format_version=FORMAT_VERSION,
            listing_id=listing_id,
            kind=kind,
            version=version,
            meta=meta,
            items=entries,
        )
        licences = "\n".join(f"{e.listing_id}@{e.version} ({e.kind}): {e.licence}" for e in entries)
        zf.writestr("LICENCE.txt", f"Licences of the content in this bundle:\n{licences}\n")
        zf.writestr("manifest.json", manifest.model_dump_json(indent=2))
    return buffer.getvalue()


def _safe(name: str) -> bool:
    return bool(_SAFE_NAME.match(name)) and ".." not in name.split("/") and not name.startswith("/")


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    if info.file_size > MAX_MEMBER_BYTES:
        raise BundleError(
            f"bundle member {info.filename!r} is {info.file_size} bytes; "
            f"members may hold at most {MAX_MEMBER_BYTES}"
        )
    with zf.open(info) as member:
        data = member.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        raise BundleError(
            f"bundle member {info.filename!r} unpacks to more than {MAX_MEMBER_BYTES} bytes"
        )
    return data


def read_bundle(raw: bytes) -> Bundle:
    """Check and read a bundle (see the module); :class:`BundleError` otherwise."""
    if len(raw) > MAX_TOTAL_BYTES:
        raise BundleError(f"the bundle is larger than {MAX_TOTAL_BYTES} bytes")
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, ValueError):
        raise BundleError("not a bundle: the file is not a zip archive") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise BundleError(f"the bundle has {len(infos)} members; at most {MAX_MEMBERS}")
        for info in infos:
            if not _safe(info.filename):
                raise BundleError(
                    f"bundle member {info.filename!r} has an unsafe path (it "
                    "would land outside the bundle); refusing the bundle"
                )
        members: dict[str, bytes] = {}
        total = 0
        try:
            for info in infos:
                if info.is_dir():
                    continue
                data = _read(zf, info)
                total += len(data)
                if total > MAX_TOTAL_BYTES:
                    raise BundleError(f"the bundle unpacks to more than {MAX_TOTAL_BYTES} bytes")
                members[info.filename] = data
        except (zipfile.BadZipFile, zlib.error, RuntimeError, EOFError) as exc:
            raise BundleError(f"the bundle is damaged: {exc}") from None
    manifest = _manifest(members)
    listed = {item.path for item in manifest.items} | {"manifest.json", "LICENCE.txt"}
    extra = sorted(set(members) - listed)
    if extra:
        raise BundleError(f"bundle member {extra[0]!r} is not in the manifest")
    items: list[InstallItem] = []
    for item in manifest.items:
        blob = members.get(item.path)
        if blob is None:
            raise BundleError(f"{item.path}: listed in the manifest but missing")
        if hashlib.sha256(blob).hexdigest() != item.sha256:
            raise BundleError(
                f"{item.path}: its SHA-256 does not match the manifest; the "
                "file was changed or damaged"
            )
        try:
            content = json.loads(blob)
        except ValueError as exc:
            raise BundleError(f"{item.path}: not JSON ({exc})") from None
        except RecursionError:
            raise BundleError(f"{item.path}: JSON nested too deeply to read") from None
        canonical = validate_content(item.kind, content)
        if content_hash(canonical) != item.content_hash:
            raise BundleError(
                f"{item.path}: the content hash does not match the manifest's "
                f"{item.content_hash[:19]}..."
            )
        items.append(
            InstallItem(
                listing_id=item.listing_id,
                kind=item.kind,
                version=item.version,
                content=canonical,
                content_hash=item.content_hash,
                licence=item.licence,
            )
        )
    return Bundle(manifest=manifest, items=items)


def _manifest(members: dict[str, bytes]) -> Manifest:
    raw = members.get("manifest.json")
    if raw is None:
        raise BundleError("not a bundle: manifest.json is missing")
    try:
        data: Any = json.loads(raw)
        manifest = Manifest.model_validate(data)
    except ValueError as exc:
        if isinstance(exc, ValidationError):
            lines = "; ".join(str(e) for e in field_errors(exc)[:5])
            raise BundleError(f"manifest.json: {lines}") from None
        raise BundleError(f"manifest.json is not JSON: {exc}") from None
    except RecursionError:
        raise BundleError("manifest.json: JSON nested too deeply to read") from None
    if manifest.format != FORMAT or manifest.format_version != FORMAT_VERSION:
        raise BundleError(
            f"manifest.json: format {manifest.format!r} version "
            f"{manifest.format_version} is not {FORMAT!r} {FORMAT_VERSION}"
        )
    if not manifest.items:
        raise BundleError("manifest.json lists no content")
    return manifest
