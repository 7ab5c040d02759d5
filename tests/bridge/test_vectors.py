"""The bridge conformance vectors run from the adapter's side against a real daemon, once
per encoding each lists (the harness: ``tests/support/vectors.py``), and the vector files
checked against the rules of ``bridge/spec/README.md`` and ``bridge/PROTOCOL.md``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from encounters_bridge.frames import Encoding
from encounters_bridge.protocol import WORLDS
from tests.support.vectors import (
    HARNESS_STEPS,
    PROTOCOL_MD,
    REQUIREMENTS,
    SPEC,
    VECTORS,
    WIRE_STEPS,
    Runner,
    load,
    requirements,
    run_vector,
    vector_params,
)


@pytest.mark.parametrize(("path", "encoding"), vector_params())
def test_vector(path: Path, encoding: Encoding, tmp_path: Path) -> None:
    run_vector(path, tmp_path, lambda vector, harness: Runner(vector, encoding, harness))


# -- the vectors themselves ----------------------------------------------------------------


def _rule_ids() -> set[str]:
    """Rule ids defined in the README's rule tables (rows like ``| V1 | ...``)."""
    readme = (SPEC / "README.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| ([VE][0-9]+) \|", readme, flags=re.MULTILINE))


def test_vectors_are_well_formed() -> None:
    rules = _rule_ids()
    assert VECTORS, "no vectors found"
    numbers = [p.stem.split("-", 1)[0] for p in VECTORS]
    assert len(set(numbers)) == len(numbers), "two vectors share a number"
    for path in VECTORS:
        vector = load(path)
        where = path.name
        assert vector["name"] == path.stem, where
        assert isinstance(vector["checks"], str) and vector["checks"], where
        assert vector["rules"] and set(vector["rules"]) <= rules, (where, vector["rules"])
        assert set(vector.get("encodings", ["json", "msgpack"])) <= {"json", "msgpack"}, where
        assert set(vector.get("setup", {})) <= {
            "world", "server_id", "heartbeat_interval", "sessions"
        }, where  # fmt: skip
        assert vector.get("setup", {}).get("world", "gmod") in WORLDS, where
        for step in vector["steps"]:
            assert len(step) == 1, (where, step)
            (kind,) = step
            assert kind in WIRE_STEPS or kind in HARNESS_STEPS, (where, kind)
        assert set(vector.get("requires", [])) == requirements(vector), (
            where, "requires must list exactly", sorted(requirements(vector)),
        )  # fmt: skip
        assert set(vector.get("requires", [])) <= REQUIREMENTS, where


def test_every_v_rule_has_a_vector() -> None:
    """PROTOCOL.md marks rules [V]; the README numbers them V1..Vn in the same order;
    each needs at least one vector."""
    text = PROTOCOL_MD.read_text(encoding="utf-8")
    marked = text[text.index("## Link") :].count("**[V]**")  # not the intro's mention
    v_rules = {r for r in _rule_ids() if r.startswith("V")}
    assert v_rules == {f"V{i}" for i in range(1, marked + 1)}, (
        "the README's V rules must match the [V] marks of PROTOCOL.md"
    )
    covered = {rule for path in VECTORS for rule in load(path)["rules"]}
    assert v_rules <= covered, f"[V] rules without a vector: {sorted(v_rules - covered)}"
