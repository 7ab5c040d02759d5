"""What creators publish (``encounters.moderation.published``): machine-made ids are
not judged as text; everything a creator writes still is."""

from __future__ import annotations

import random

import pytest

from encounters.moderation import ContentModerator, TextFilter
from encounters.moderation.published import published_text_errors

#: Ids in ``new_id``'s form that moderation refused as text (found among 20,000 random
#: ones: read as leetspeak the hex spelled profanity, or its digits a phone number).
REFUSED_BEFORE = [
    "enc_e57afb1343947c50", "enc_e4e94116d7d1c55f", "enc_eaa4e6af8eb326b8",
    "enc_ea4e6b00ecfef0b8", "enc_e572782846440403", "enc_d010e5ec2e4e9b5c",
    "enc_02797312726622de", "enc_98799225582782a3", "enc_faba34e9c8e21d92",
]  # fmt: skip


@pytest.fixture(scope="module")
def moderator() -> ContentModerator:
    return ContentModerator(TextFilter.default())


@pytest.mark.parametrize("made", REFUSED_BEFORE)
def test_a_generated_id_is_not_judged_as_text(moderator: ContentModerator, made: str) -> None:
    body = {"id": made, "objectives": [{"id": made.replace("enc_", "obj_")}]}
    assert published_text_errors(moderator, body) == ([], [])


def test_no_generated_id_is_refused(moderator: ContentModerator) -> None:
    rng = random.Random(7)
    for _ in range(3000):
        made = f"enc_{rng.getrandbits(64):016x}"
        assert published_text_errors(moderator, {"id": made}) == ([], []), made


@pytest.mark.parametrize(
    "written",
    [
        "enc_fuckyou",  # an id a creator chose
        "enc_f4gg0t",
        "enc_e57afb1343947c50 fuck",  # an id and more: text
        "ENC_E57AFB1343947C50",  # not the generated form (upper case)
    ],
)
def test_text_a_creator_writes_is_still_judged(moderator: ContentModerator, written: str) -> None:
    _, blocked = published_text_errors(moderator, {"id": written, "title": written})
    assert [e.path for e in blocked] == ["id", "title"], written


@pytest.mark.parametrize("field", ["title", "description"])
def test_text_in_the_shape_of_a_generated_id_is_still_judged_outside_id_fields(
    moderator: ContentModerator, field: str
) -> None:
    """Only machine-made ids are exempt: a title or a description a creator writes in
    the shape ``word_`` + 16 hex digits is text, and its word is judged (the prefix is
    any 1-16 letters, so the exemption let profanity and slurs through any field)."""
    written = "fuck_0123456789abcdef"
    _, blocked = published_text_errors(moderator, {field: written})
    assert [e.path for e in blocked] == [field], written


def test_generated_ids_pass_in_every_id_field(moderator: ContentModerator) -> None:
    made = REFUSED_BEFORE
    body = {
        "id": made[0],
        "template_id": made[1],
        "objectives": [{"id": made[2], "requires": [made[3], made[4]]}],
        "npcs": [{"dialogue": [{"id": made[5], "responses": [{"text": "ok", "next": made[6]}]}]}],
        "sourceId": made[7],
    }
    assert published_text_errors(moderator, body) == ([], [])


def test_a_key_in_the_shape_of_a_generated_id_is_judged(moderator: ContentModerator) -> None:
    """Keys are text wherever they are, even under an id field."""
    written = "fuck_0123456789abcdef"
    _, blocked = published_text_errors(moderator, {"template_id": {written: 1}})
    assert [e.path for e in blocked] == ["template_id"]


@pytest.mark.parametrize("field", ["id", "template_id"])
def test_the_prefix_of_an_id_in_an_id_field_is_judged(
    moderator: ContentModerator, field: str
) -> None:
    """The hex of a generated id is not judged, its prefix is: anyone can write an id
    of that form with a word of their own in front."""
    _, blocked = published_text_errors(moderator, {field: "fuck_0123456789abcdef"})
    assert [e.path for e in blocked] == [field]
    _, blocked = published_text_errors(
        moderator, {"objectives": [{"requires": ["fuck_0123456789abcdef"]}]}
    )
    assert [e.path for e in blocked] == ["objectives[0].requires[0]"]
