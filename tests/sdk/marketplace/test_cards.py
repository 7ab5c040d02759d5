"""Character Cards: V2 and V3 cards written from the published specifications (JSON,
and PNG with the card base64-encoded in a tEXt chunk, assembled here byte by byte as
the PNG specification lays chunks out) read into persona packages and written back."""

from __future__ import annotations

import base64
import copy
import json
import struct
import zlib
from typing import Any

import pytest

from encounters.marketplace import (
    CardError,
    card_from_json,
    card_to_json,
    card_to_png,
    read_card,
    validate_content,
)
from encounters.marketplace.cards import EXTENSION

V2_CARD: dict[str, Any] = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {
        "name": "Marta",
        "description": "A gruff ferrywoman who has crossed the river ten thousand times.",
        "personality": "gruff, loyal, dry humour",
        "scenario": "{{user}} needs to cross the river at night.",
        "first_mes": "Fare's two coins. Get in before the fog does.",
        "mes_example": "<START>\n{{user}}: Is it safe?\n{{char}}: Safer than swimming.",
        "creator_notes": "Works best with slow-paced adventures.",
        "system_prompt": "Stay in character as {{char}}.",
        "post_history_instructions": "Keep replies short.",
        "alternate_greetings": ["You again? Same fare."],
        "character_book": {
            "name": "River lore",
            "extensions": {},
            "entries": [{"keys": ["fog"], "content": "The fog hides river spirits.",
                         "extensions": {}, "enabled": True, "insertion_order": 0}],
        },
        "tags": ["ferry", "river"],
        "creator": "alice",
        "character_version": "1.2",
        "extensions": {"depth_prompt": {"depth": 4, "prompt": "Marta is tired."}},
    },
}  # fmt: skip

V3_CARD: dict[str, Any] = {
    "spec": "chara_card_v3",
    "spec_version": "3.0",
    "data": {
        **copy.deepcopy(V2_CARD["data"]),
        "nickname": "Old Marta",
        "creator_notes_multilingual": {"de": "Am besten mit ruhigen Abenteuern."},
        "source": ["https://example.org/cards/marta"],
        "group_only_greetings": ["Everyone in? Hold on to the rail."],
        "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
        "creation_date": 1700000000,
        "modification_date": 1710000000,
    },
}


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with(texts: list[tuple[bytes, bytes]], compressed: bool = False) -> bytes:
    """A 2x2 grey PNG with ``texts`` as tEXt (or zTXt) chunks before IDAT."""
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00\x80\x80" * 2)
    text_chunks = b"".join(
        chunk(b"zTXt", k + b"\x00\x00" + zlib.compress(v)) if compressed
        else chunk(b"tEXt", k + b"\x00" + v) for k, v in texts
    )  # fmt: skip
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + text_chunks + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))  # fmt: skip


def b64(card: dict[str, Any]) -> bytes:
    return base64.b64encode(json.dumps(card).encode())


def text_chunks(png: bytes) -> dict[str, bytes]:
    """The tEXt chunks of ``png``, read by walking its chunks as the spec lays them out."""
    found, at = {}, 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, body = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        assert struct.unpack(">I", png[at + 8 + length : at + 12 + length])[0] == zlib.crc32(
            kind + body
        )
        if kind == b"tEXt":
            key, _, value = body.partition(b"\x00")
            found[key.decode()] = value
        at += 12 + length
    return found


def without_ours(card: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(card)
    out["data"]["extensions"].pop(EXTENSION)
    return out


def test_a_v2_card_maps_to_persona_fields_and_memory() -> None:
    package = card_from_json(V2_CARD)
    assert package.persona.name == "Marta"
    assert package.persona.description == V2_CARD["data"]["description"]
    assert package.memory.personality == "gruff, loyal, dry humour"
    assert package.memory.scenario.startswith("{{user}} needs")
    assert package.memory.first_message.startswith("Fare's two coins")
    assert package.memory.example_dialogue.startswith("<START>")
    assert package.tags == ["ferry", "river"]
    kept = package.card["data"]
    assert kept["character_book"]["entries"][0]["keys"] == ["fog"]
    assert kept["extensions"] == {"depth_prompt": {"depth": 4, "prompt": "Marta is tired."}}
    assert "personality" not in kept and "name" not in kept  # mapped, not kept twice
    # a persona listing's content is the package, which validates as a persona
    assert (
        validate_content("persona", package.model_dump(mode="json"))["persona"]["name"] == "Marta"
    )


@pytest.mark.parametrize(("card", "version"), [(V2_CARD, "v2"), (V3_CARD, "v3")])
def test_json_cards_round_trip(card: dict[str, Any], version: str) -> None:
    exported = card_to_json(card_from_json(card), version)  # type: ignore[arg-type]
    assert without_ours(exported) == card
    assert (
        exported["data"]["extensions"][EXTENSION]["persona"]["safety"]["moderation"] == "sanitize"
    )
    again = card_from_json(exported)
    assert again.model_dump(exclude={"persona": {"id"}}) == card_from_json(card).model_dump(
        exclude={"persona": {"id"}}
    )


def test_persona_settings_travel_in_the_extension() -> None:
    package = card_from_json(V2_CARD)
    package.persona.safety.moderation = "block"
    package.persona.traits.tone = "serious"
    back = card_from_json(card_to_json(package, "v2"))
    assert (back.persona.safety.moderation, back.persona.traits.tone) == ("block", "serious")


def test_a_v3_card_exported_as_v2_leaves_out_v3_only_fields() -> None:
    v2 = card_to_json(card_from_json(V3_CARD), "v2")
    assert v2["spec"] == "chara_card_v2" and v2["spec_version"] == "2.0"
    assert without_ours(v2) == V2_CARD
    v3 = card_to_json(card_from_json(V2_CARD), "v3")
    assert v3["data"]["group_only_greetings"] == []  # required in V3


@pytest.mark.parametrize(("card", "keyword", "version"),
                         [(V2_CARD, b"chara", "v2"), (V3_CARD, b"ccv3", "v3")])  # fmt: skip
def test_png_cards_round_trip(card: dict[str, Any], keyword: bytes, version: str) -> None:
    png = png_with([(b"Comment", b"made by hand"), (keyword, b64(card))])
    package = read_card(png)
    assert package.persona.name == "Marta"
    written = card_to_png(package, version, png)  # type: ignore[arg-type]
    texts = text_chunks(written)
    assert texts["Comment"] == b"made by hand"  # the image's own chunks are kept
    assert set(texts) == {"Comment", keyword.decode()}
    assert without_ours(json.loads(base64.b64decode(texts[keyword.decode()]))) == card
    assert read_card(written).memory == package.memory


def test_ccv3_wins_over_chara_and_ztxt_is_read() -> None:
    old = copy.deepcopy(V2_CARD)
    old["data"]["name"] = "Backfilled"
    png = png_with([(b"chara", b64(old)), (b"ccv3", b64(V3_CARD))])
    assert read_card(png).persona.name == "Marta"
    assert read_card(png_with([(b"chara", b64(V2_CARD))], compressed=True)).persona.name == "Marta"


def test_long_descriptions_are_kept_whole_in_memory() -> None:
    card = copy.deepcopy(V2_CARD)
    card["data"]["description"] = ("Marta knows the river. " * 100).strip()
    package = card_from_json(card)
    assert len(package.persona.description) <= 1000
    assert package.persona.description.endswith(".")
    assert package.memory.description == card["data"]["description"]
    assert card_to_json(package, "v2")["data"]["description"] == card["data"]["description"]


def test_bad_cards_get_clear_errors() -> None:
    with pytest.raises(CardError, match="unknown card spec 'tavern'"):
        card_from_json({"spec": "tavern", "data": {}})
    with pytest.raises(CardError, match=r"data\.name is empty"):
        card_from_json({"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": " "}})
    with pytest.raises(CardError, match=r"data\.tags must be a list"):
        card_from_json({"spec": "chara_card_v2", "data": {"name": "X", "tags": "a,b"}})
    with pytest.raises(CardError, match="no character card"):
        read_card(png_with([(b"Comment", b"nothing here")]))
    broken = bytearray(png_with([(b"chara", b64(V2_CARD))]))
    broken[40] ^= 0xFF  # a byte inside the IHDR chunk
    with pytest.raises(CardError, match="damaged \\(bad CRC\\)"):
        read_card(bytes(broken))
    with pytest.raises(CardError, match="not base64-encoded JSON"):
        read_card(png_with([(b"chara", b"%%%not base64")]))
    with pytest.raises(CardError, match="not a PNG and not JSON"):
        read_card(b"GIF89a")
