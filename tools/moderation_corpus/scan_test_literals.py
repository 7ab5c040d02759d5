"""Run every string literal of the test suite through the moderator and record what it
decides, so a retrain's effect on the tests' own lines is seen before CI sees it.

A retrained topic model once blocked an ordinary line of an end-to-end test, which
failed in CI. This tool reads every ``.py``, ``.js``, ``.ts`` and ``.lua`` file under
``tests/`` (Python by ``ast``: every string constant, also the parts of f-strings; the
others by a simple regex for single-, double- and back-quoted strings without escapes
across lines), keeps literals with a letter, up to ``max_message_length``, and asks the
moderator (game context, a default persona, as companions use it) about each. With
``--out`` it writes ``{literal: [decision, categories]}``; with ``--compare`` it prints
the literals whose decision or categories differ from a file written before (a retrain,
new rules), and their files.

Limits: the regex does not understand the other languages' escapes or template parts,
so a few literals are cut or joined oddly (they are judged as they come out); literals
that are not chat (ids, paths, code) are judged too, and the compare lists them only if
they changed. The held-out evaluation test, ``tests/sdk/moderation/test_moderation_eval.py``,
and the corpus directory are skipped.

Run from the repository root:
``python tools/moderation_corpus/scan_test_literals.py --out /tmp/before.json``, then
after the change ``... --compare /tmp/before.json`` (``--model PATH`` uses another
topic model file).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "sdk"))

from encounters.models.persona import PersonaCore  # noqa: E402
from encounters.moderation import ContentModerator, TextFilter  # noqa: E402
from encounters.moderation.topicmodel import TopicModel  # noqa: E402

TESTS = ROOT / "tests"
SKIP = (
    TESTS / "sdk" / "moderation" / "test_moderation_eval.py",
    TESTS / "sdk" / "moderation" / "corpus",
)
QUOTED = re.compile(r""""((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|`((?:[^`\\]|\\.)*)`""")
MAX_LENGTH = 500


def python_literals(path: Path) -> list[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except SyntaxError:
        return []
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def quoted_literals(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return [next(g for g in m.groups() if g is not None) for m in QUOTED.finditer(text)]


def literals() -> dict[str, set[str]]:
    """Literal -> files it appears in."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in sorted(TESTS.rglob("*")):
        if path.suffix not in (".py", ".js", ".ts", ".lua") or "node_modules" in path.parts:
            continue
        if any(path == s or s in path.parents for s in SKIP):
            continue
        read = python_literals if path.suffix == ".py" else quoted_literals
        for text in read(path):
            if 0 < len(text) <= MAX_LENGTH and any(c.isalpha() for c in text):
                found[text].add(str(path.relative_to(ROOT)))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="topic model file (default: the shipped one)")
    parser.add_argument("--out", type=Path, help="write the decisions here")
    parser.add_argument("--compare", type=Path, help="list literals whose decision differs")
    args = parser.parse_args()
    model = TopicModel.load(args.model) if args.model else None
    moderator = ContentModerator(TextFilter.default(), topic_model=model)
    companion = PersonaCore(name="Companion")
    found = literals()
    decisions: dict[str, list[object]] = {}
    for text in sorted(found):
        result = moderator.check_message(text, companion)
        decisions[text] = [result.decision, sorted(result.categories)]
    print(f"{len(decisions)} literals from {len({f for fs in found.values() for f in fs})} files")
    if args.out:
        args.out.write_text(json.dumps(decisions, indent=0), encoding="utf-8")
    if args.compare:
        before = json.loads(args.compare.read_text(encoding="utf-8"))
        changed = [t for t in decisions if t in before and before[t] != decisions[t]]
        print(f"changed: {len(changed)} (of {sum(1 for t in decisions if t in before)} in both)")
        for text in changed:
            print(f"  {before[text]} -> {decisions[text]}  {text!r}  {sorted(found[text])[:3]}")


if __name__ == "__main__":
    main()
