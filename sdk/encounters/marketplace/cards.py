"""Character Card V2 and V3 for personas: read a card (JSON, or a PNG with the card
in a text chunk) into a :class:`PersonaPackage`, and write a package back as a card.

The specifications: Character Card V2 (``spec: "chara_card_v2"``, ``spec_version:
"2.0"``, the fields under ``data``; in a PNG, base64 JSON in the ``tEXt`` chunk
``chara``) and V3 (``"chara_card_v3"``, ``"3.0"``, a superset of V2; in a PNG the
``ccv3`` chunk, which wins when both are present).

Mapping: ``name`` and ``description`` become the persona's (the description cut to the
persona's 1,000 characters at a paragraph or sentence end; the whole text is kept in
``memory.description``); ``personality``, ``scenario``, ``first_mes`` and
``mes_example`` go to the package's ``memory``; ``tags`` to its ``tags``. Every other
field (creator notes, system prompt, greetings, lorebook, V3 assets, unknown fields,
``extensions``) is kept as written in the package's ``card`` block, so exporting the
package gives the card back. The persona's own settings (traits, safety, embodiment)
travel in ``data.extensions.ai_encounters``. Limits: V3-only fields are left out of a
V2 export; assets embedded in PNG chunks (``chara-ext-asset_:``) and CHARX files are
not read; a card (or PNG) over 8 MB is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import zlib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..models.persona import PersonaCore
from ..validation import field_errors
from .errors import CardError

CardVersion = Literal["v2", "v3"]
MAX_CARD_BYTES = 8_000_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SPECS = {"v2": ("chara_card_v2", "2.0", "chara"), "v3": ("chara_card_v3", "3.0", "ccv3")}
#: Fields that map to the persona or its memory; everything else stays in ``card``.
MAPPED = ("name", "description", "personality", "scenario", "first_mes", "mes_example", "tags")
#: Fields a V2 card must have (with their empty values), per the V2 specification.
V2_FIELDS: dict[str, Any] = {
    "name": "",
    "description": "",
    "personality": "",
    "scenario": "",
    "first_mes": "",
    "mes_example": "",
    "creator_notes": "",
    "system_prompt": "",
    "post_history_instructions": "",
    "alternate_greetings": [],
    "tags": [],
    "creator": "",
    "character_version": "",
    "extensions": {},
}
#: What V3 adds (required ones with their empty values; the optional ones are kept
#: only when present).
V3_REQUIRED: dict[str, Any] = {"group_only_greetings": []}
V3_ONLY = (
    "group_only_greetings",
    "assets",
    "nickname",
    "creator_notes_multilingual",
    "source",
    "creation_date",
    "modification_date",
)
EXTENSION = "ai_encounters"
LongProse = Annotated[str, Field(max_length=100_000)]


class PersonaMemory(BaseModel):
    """What a card's prose says about the character, kept with the persona as its
    memory: the companion's brain reads it as background."""

    model_config = ConfigDict(extra="forbid")

    description: LongProse = ""
    personality: LongProse = ""
    scenario: LongProse = ""
    first_message: LongProse = ""
    example_dialogue: LongProse = ""


class PersonaPackage(BaseModel):
    """A persona with what a Character Card carries besides it: the content of a
    persona listing."""

    model_config = ConfigDict(extra="forbid")

    persona: PersonaCore
    memory: PersonaMemory = PersonaMemory()
    tags: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=100)] = []
    #: The card's other fields as written (``spec``, ``spec_version`` and ``data``).
    card: dict[str, Any] = {}


# -- JSON -------------------------------------------------------------------------------


def _short(text: str, limit: int = 1000) -> str:
    """``text`` cut to ``limit`` characters at a paragraph, sentence or word end."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = text[:limit]
    for mark in ("\n\n", ". ", "\n", " "):
        at = head.rfind(mark)
        if at > limit // 2:
            return head[: at + (1 if mark == ". " else 0)].strip()
    return head


def card_from_json(card: Any) -> PersonaPackage:
    """A V2 or V3 card (parsed JSON) as a package; :class:`CardError` naming what is
    wrong otherwise. V1 cards (the fields at the top, no ``spec``) are read too."""
    if not isinstance(card, dict):
        raise CardError("a Character Card must be a JSON object")
    spec = card.get("spec")
    if spec in ("chara_card_v2", "chara_card_v3"):
        data = card.get("data")
        if not isinstance(data, dict):
            raise CardError(f"{spec}: 'data' must be an object holding the card's fields")
    elif spec is None and isinstance(card.get("name"), str):
        data, spec = dict(card), "chara_card_v1"
    else:
        raise CardError(f"unknown card spec {spec!r}: expected chara_card_v2 or chara_card_v3")
    for name in MAPPED:
        wanted = list if name == "tags" else str
        if name in data and not isinstance(data[name], wanted):
            kind = "a list of strings" if wanted is list else "a string"
            raise CardError(f"{spec}: data.{name} must be {kind}")
    name = str(data.get("name", "")).strip()
    if not name:
        raise CardError(f"{spec}: data.name is empty; a character needs a name")
    given = data.get("extensions")
    extensions: dict[str, Any] = given if isinstance(given, dict) else {}
    ours = extensions.get(EXTENSION)
    rest = {k: v for k, v in data.items() if k not in MAPPED}
    if isinstance(ours, dict):
        rest["extensions"] = {k: v for k, v in extensions.items() if k != EXTENSION}
    description = str(data.get("description", ""))
    persona: dict[str, Any] = dict(ours.get("persona", {})) if isinstance(ours, dict) else {}
    persona.update({"name": name[:120], "description": _short(description)})
    try:
        return PersonaPackage(
            persona=PersonaCore.model_validate(persona),
            memory=PersonaMemory(
                description=description,
                personality=str(data.get("personality", "")),
                scenario=str(data.get("scenario", "")),
                first_message=str(data.get("first_mes", "")),
                example_dialogue=str(data.get("mes_example", "")),
            ),
            tags=[str(t) for t in data.get("tags", [])],
            card={"spec": spec, "spec_version": card.get("spec_version", "1.0"), "data": rest},
        )
    except ValidationError as exc:
        lines = "; ".join(str(e) for e in field_errors(exc)[:5])
        raise CardError(f"{spec}: the card does not fit a persona: {lines}") from None


def card_to_json(package: PersonaPackage, version: CardVersion = "v3") -> dict[str, Any]:
    """The package as a card of ``version``; fields the card came with are written
    back as they were."""
    spec, spec_version, _ = SPECS[version]
    kept: dict[str, Any] = dict(package.card.get("data", {}))
    memory = package.memory
    data: dict[str, Any] = {**V2_FIELDS, **(V3_REQUIRED if version == "v3" else {})}
    data.update({k: v for k, v in kept.items() if version == "v3" or k not in V3_ONLY})
    data.update(
        {
            "name": package.persona.name,
            "description": memory.description or package.persona.description,
            "personality": memory.personality,
            "scenario": memory.scenario,
            "first_mes": memory.first_message,
            "mes_example": memory.example_dialogue,
            "tags": list(package.tags),
        }
    )
    extensions = dict(data["extensions"]) if isinstance(data.get("extensions"), dict) else {}
    persona = package.persona.model_dump(
        mode="json", include={"traits", "goals", "safety", "voice", "embodiment"}
    )
    extensions[EXTENSION] = {"persona": persona}
    data["extensions"] = extensions
    return {"spec": spec, "spec_version": spec_version, "data": data}


# -- PNG --------------------------------------------------------------------------------


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    if len(png) > MAX_CARD_BYTES:
        raise CardError(f"the PNG is larger than {MAX_CARD_BYTES // 1_000_000} MB")
    if not png.startswith(PNG_SIGNATURE):
        raise CardError("not a PNG file (the PNG signature is missing)")
    out: list[tuple[bytes, bytes]] = []
    at = len(PNG_SIGNATURE)
    while at < len(png):
        if at + 8 > len(png):
            raise CardError(f"the PNG is cut short at byte {at}")
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind = png[at + 4 : at + 8]
        end = at + 12 + length
        if end > len(png):
            raise CardError(f"the PNG is cut short in its {kind.decode('latin-1')!r} chunk")
        body = png[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", png[at + 8 + length : end])
        if zlib.crc32(kind + body) != crc:
            raise CardError(f"the PNG's {kind.decode('latin-1')!r} chunk is damaged (bad CRC)")
        out.append((kind, body))
        at = end
        if kind == b"IEND":
            break
    return out


def _text_chunks(png: bytes) -> dict[str, bytes]:
    """The PNG's text chunks by keyword (tEXt, and zTXt decompressed), values raw."""
    found: dict[str, bytes] = {}
    for kind, body in _chunks(png):
        if kind not in (b"tEXt", b"zTXt") or b"\x00" not in body:
            continue
        keyword, _, value = body.partition(b"\x00")
        if kind == b"zTXt":
            try:
                value = zlib.decompressobj().decompress(value[1:], MAX_CARD_BYTES)
            except zlib.error:
                raise CardError(f"the PNG's {keyword!r} zTXt chunk is damaged") from None
        found[keyword.decode("latin-1")] = value
    return found


def card_from_png(png: bytes) -> PersonaPackage:
    """The card in a PNG (``ccv3`` preferred over ``chara``) as a package."""
    texts = _text_chunks(png)
    raw = texts.get("ccv3", texts.get("chara"))
    if raw is None:
        raise CardError("the PNG holds no character card (no 'ccv3' or 'chara' text chunk)")
    try:
        card = json.loads(base64.b64decode(raw, validate=False).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CardError("the PNG's card chunk is not base64-encoded JSON") from None
    except RecursionError:  # no card nests more than a few levels
        raise CardError("the PNG's card chunk is JSON nested too deeply to read") from None
    return card_from_json(card)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def plain_png(
    width: int = 64, height: int = 64, rgb: tuple[int, int, int] = (64, 96, 160)
) -> bytes:
    """A one-colour PNG: the image of a card when no portrait is given."""
    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(row * height))
        + _chunk(b"IEND", b"")
    )


def card_to_png(
    package: PersonaPackage, version: CardVersion = "v3", image: bytes | None = None
) -> bytes:
    """``image`` (a PNG; a plain one when None) with the card in its ``ccv3`` (V3) or
    ``chara`` (V2) tEXt chunk; card chunks already in the image are replaced."""
    keyword = SPECS[version][2].encode()
    card = json.dumps(card_to_json(package, version), ensure_ascii=False).encode()
    text = _chunk(b"tEXt", keyword + b"\x00" + base64.b64encode(card))
    out = [PNG_SIGNATURE]
    for kind, body in _chunks(image or plain_png()):
        if kind in (b"tEXt", b"zTXt") and body.split(b"\x00", 1)[0] in (b"chara", b"ccv3"):
            continue
        if kind == b"IEND":
            out.append(text)
        out.append(_chunk(kind, body))
    return b"".join(out)


def read_card(raw: bytes) -> PersonaPackage:
    """A card file's bytes, PNG or JSON, as a package."""
    if raw.startswith(PNG_SIGNATURE):
        return card_from_png(raw)
    if len(raw) > MAX_CARD_BYTES:
        raise CardError(f"the card is larger than {MAX_CARD_BYTES // 1_000_000} MB")
    try:
        card = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CardError(f"not a PNG and not JSON: {exc}") from None
    except RecursionError:  # no card nests more than a few levels
        raise CardError("the card is JSON nested too deeply to read") from None
    return card_from_json(card)
