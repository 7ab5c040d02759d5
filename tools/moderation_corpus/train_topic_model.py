"""Train the offline topic model (``encounters/moderation/data/topic_model.json``).

Trained on the tuning set only (``corpus.jsonl`` and the ``tune`` split of
``game_corpus.jsonl``), ``train_extra.jsonl`` (lines written for training: game talk
full of combat and death words, and harm in plain words), ``train_generated.jsonl``
(lines made from hand-written frames by ``build_train_generated.py``; left out with
``--no-generated``), ``train_varied.jsonl`` (harm in varied words and game chat in
the same words, written one by one by ``build_train_varied.py``),
``train_sexual_violence.jsonl`` (sexual harm and real-world violence as players type
them, and game chat in the same words, written one by one by
``build_train_sexual_violence.py``),
``train_everyday.jsonl`` (everyday talk, NPC and quest dialogue, UI and
documentation-like prose that must pass), ``train_idioms.jsonl`` (everyday hyperbole
in harm words, "my coach is going to kill me if i miss practice", and talk about
crimes and their news, which must pass), ``train_self_harm.jsonl`` (self-injury and
eating disorders as written in chat, and twins in the same words; self-harm only; last,
so earlier lines keep their folds) and the sentences of the built-in
encounter templates (game prose that must pass); the held-out set is never read here.
Method:

1. each line is folded (``encounters.moderation.normalize.fold``) and turned into word,
   word-pair and word-beginning features, and word-class features for the sexual and
   violence models (``encounters.moderation.topicmodel``);
2. one logistic regression per topic (hate, sexual, self_harm, violence), trained by
   AdaGrad with L2 regularisation, positives weighted up (they are a few percent of
   the lines), in a fixed order (deterministic: the same file every run);
3. each topic's threshold is chosen on out-of-fold scores (five folds of the training
   lines; lines made from one template share a fold): the lowest score at which at
   most ``--game-fp`` of the training lines' ordinary and role-play game chat would be
   flagged, and precision stays at or above ``--min-precision``; only the game chat the
   model can get wrong in the moderator counts (the word lists blocked nothing there,
   and did not judge the topic's words game talk);
4. the final model is trained on the whole tuning set; weights below ``--prune`` in
   every topic are dropped, the rest rounded, and written as JSON.

It prints out-of-fold recall, precision and game-chat lines flagged per topic, also
recall on the lines not made from frames (the fairer figure: frame lines resemble each
other), then the validation figure that decides settings: word lists and out-of-fold
model together, as the moderator combines them (``AE_SHOW_MISSED=1`` lists the written
harm lines both miss, and the clean lines flagged); lines of the latest round (the highest
``round`` in a record) are also left out of one recall figure, the one comparable with the model
before that round; ``--show N`` prints the N game-chat lines that score highest.

Run from the repository root: ``python tools/moderation_corpus/train_topic_model.py``.
A model written on purpose changes decisions the tests pin: record them again with
``python -m tests.sdk.moderation.pinned.record`` (``test_moderation_pinned.py``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sys
import zlib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "sdk"))

from tests.sdk.moderation.corpus.evaluate import GAME_CHAT, HERE, _read, tuning_set  # noqa: E402

from encounters.moderation.moderator import MASKABLE  # noqa: E402
from encounters.moderation.normalize import fold  # noqa: E402
from encounters.moderation.textfilter import TextFilter  # noqa: E402
from encounters.moderation.topicmodel import MODEL_TOPICS, TopicModel, features  # noqa: E402

OUT = ROOT / "sdk" / "encounters" / "moderation" / "data" / "topic_model.json"
TEMPLATES = ROOT / "sdk" / "encounters" / "templates" / "builtin"

Example = tuple[list[str], set[str], str]  # features, labels, group
GENERATED = HERE / "train_generated.jsonl"
EVERYDAY = HERE / "train_everyday.jsonl"
VARIED = HERE / "train_varied.jsonl"
SEXUAL_VIOLENCE = HERE / "train_sexual_violence.jsonl"
VIOLENCE = HERE / "train_violence.jsonl"
IDIOMS = HERE / "train_idioms.jsonl"
SELF_HARM = HERE / "train_self_harm.jsonl"


def template_prose() -> list[dict[str, object]]:
    """Game prose that must pass: every sentence of three or more words in the built-in
    encounter templates (placeholders removed), as game-chat lines."""
    texts: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            text = " ".join(re.sub(r"\{\{[^}]*\}\}", "", value).split())
            if len(text.split()) >= 3:
                texts.append(text)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for path in sorted(TEMPLATES.glob("*.json")):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return [{"text": t, "labels": [], "group": "game_context"} for t in dict.fromkeys(texts)]


def training_rows(*, generated: bool = True) -> list[dict[str, object]]:
    rows = tuning_set() + _read(HERE / "train_extra.jsonl") + _read(VARIED) + _read(EVERYDAY)
    rows += template_prose()
    rows += _read(GENERATED) if generated else []
    # newer files go last: the lines before them keep their cross-validation folds;
    # each written for some topics, they train only those
    rows += [{**r, "topics": ("sexual", "violence")} for r in _read(SEXUAL_VIOLENCE)]
    rows += [{**r, "topics": ("violence",), "newest": True} for r in _read(VIOLENCE)]
    rows += [{**r, "topics": ("self_harm", "violence")} for r in _read(IDIOMS)]
    return rows + [{**r, "topics": ("self_harm",)} for r in _read(SELF_HARM)]


def trains(row: dict[str, object], topic: str) -> bool:
    """Whether a line trains ``topic``: every line does, except those of a file written
    for some topics only (``topics``), which leave the others' models and thresholds as
    they were."""
    only = row.get("topics")
    return only is None or topic in only  # type: ignore[operator]


#: Topics whose models use the word-class features (``c:``, ``cc:``): they were added for
#: sexual and violence, and cost hate and self-harm a little validation recall.
CLASS_TOPICS = ("sexual", "violence")


def for_topic(rows: list[Example], topic: str) -> list[Example]:
    """``rows`` with the class features dropped for a topic outside ``CLASS_TOPICS``."""
    if topic in CLASS_TOPICS:
        return rows
    return [([f for f in feats if not f.startswith("c")], labels, group)
            for feats, labels, group in rows]  # fmt: skip


def examples(rows: list[dict[str, object]]) -> list[Example]:
    return [
        (features(fold(str(r["text"]))), set(r["labels"]), str(r["group"]))  # type: ignore[call-overload]
        for r in rows
    ]


def fold_of(row: dict[str, object], index: int, folds: int, split: int = 0) -> int:
    """A line's cross-validation fold in fold split ``split`` (0: the split the figures
    are printed for): lines made from one template (``frame``) share a fold, so a model
    is never scored on near-copies of its own training lines."""
    frame = row.get("frame")
    if frame:
        return zlib.crc32(f"{frame}#{split}".encode() if split else str(frame).encode()) % folds
    return zlib.crc32(f"{index}#{split}".encode()) % folds if split else index % folds


def train(
    rows: list[Example], topic: str, *, epochs: int, l2: float, pos_weight: float, rate: float
) -> tuple[float, dict[str, float]]:
    """Bias and weights of one topic's logistic regression (AdaGrad, L2)."""
    w: dict[str, float] = defaultdict(float)
    g2: dict[str, float] = defaultdict(lambda: 1e-8)
    bias, bias_g2 = 0.0, 1e-8
    order = list(range(len(rows)))
    rng = random.Random(17)
    for _ in range(epochs):
        rng.shuffle(order)
        for i in order:
            feats, labels, _ = rows[i]
            y = 1.0 if topic in labels else 0.0
            z = bias + sum(w[f] for f in feats)
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            g = (p - y) * (pos_weight if y else 1.0)
            bias_g2 += g * g
            bias -= rate * g / math.sqrt(bias_g2)
            for f in feats:
                grad = g + l2 * w[f]
                g2[f] += grad * grad
                w[f] -= rate * grad / math.sqrt(g2[f])
    return bias, dict(w)


def score(bias: float, w: dict[str, float], feats: list[str]) -> float:
    return bias + sum(w.get(f, 0.0) for f in feats)


def choose_threshold(
    scored: list[tuple[float, bool, bool]], game_fp: float, min_precision: float
) -> float:
    """``scored``: (score, positive, game-chat negative). The lowest threshold keeping
    game-chat false positives at most ``game_fp`` and precision at least
    ``min_precision``."""
    game_negatives = sum(1 for _, _, g in scored if g)
    allowed = math.floor(game_fp * game_negatives)
    best = max(s for s, _, _ in scored) + 1.0
    tp = fp = game = 0
    for s, positive, is_game in sorted(scored, key=lambda x: -x[0]):
        tp += positive
        fp += not positive
        game += is_game
        if game > allowed:
            break
        if tp and tp / (tp + fp) >= min_precision:
            best = s
    return best


def out_of_fold(
    raw: list[dict[str, object]],
    rows: list[Example],
    lists: list[tuple[set[str], set[str]]],
    folds: list[list[int]],
    topic: str,
    hyper: dict[str, float],
) -> tuple[list[tuple[float, bool, bool, bool]], list[int]]:
    """Out-of-fold scores of one topic's model: per line that trains the topic (score,
    positive, game-chat negative the threshold counts, written line), and the lines'
    indices in the same order."""
    scored: list[tuple[float, bool, bool, bool]] = []
    mine = [[i for i in part if trains(raw[i], topic)] for part in folds]
    for k, held in enumerate(mine):
        fit = [rows[i] for j, part in enumerate(mine) if j != k for i in part]
        bias, w = train(fit, topic, **hyper)  # type: ignore[arg-type]
        for i in held:
            feats, labels, group = rows[i]
            # game chat the model can wrong in the moderator: not where the word lists
            # block already (the model is not asked) or judged this topic's words game
            # talk (its finding is dropped)
            found, game_talk = lists[i]
            game = (not labels and group in GAME_CHAT and not found - set(MASKABLE)
                    and topic not in game_talk)  # fmt: skip
            written = not raw[i].get("frame")
            scored.append((score(bias, w, feats), topic in labels, game, written))
    return scored, [i for part in mine for i in part]


def word_list_findings(raw: list[dict[str, object]]) -> list[tuple[set[str], set[str]]]:
    """Per line, what the word lists find in game context and the topics they judged
    game talk (``TextFilter.check``)."""
    text_filter = TextFilter.default()
    out = []
    for row in raw:
        found, _, game_talk = text_filter.check(str(row["text"]), "game")
        out.append((found, game_talk))
    return out


def system_report(
    raw: list[dict[str, object]],
    lists: list[tuple[set[str], set[str]]],
    oof_topics: dict[int, set[str]],
) -> None:
    """The validation figure that matters: word lists and the out-of-fold model together,
    as the moderator combines them (the model adds the topics it finds, except those
    the word lists judged game talk), per topic: precision,: recall on the written lines (not made
    from frames) and on all lines, and the training game chat flagged by either."""
    hit: dict[str, list[int]] = {t: [0] * 8 for t in MODEL_TOPICS}
    latest = max((int(r["round"]) for r in raw if r.get("round")), default=None)  # type: ignore[call-overload]
    flagged: dict[str, int] = dict.fromkeys(MODEL_TOPICS, 0)
    game = game_flagged = other = other_flagged = 0
    for i, row in enumerate(raw):
        found = set(lists[i][0]) | (oof_topics.get(i, set()) - lists[i][1])
        labels = set(row["labels"])  # type: ignore[call-overload]
        written = not row.get("frame")
        for t in MODEL_TOPICS:
            flagged[t] += t in found
            if t in labels:
                counts = hit[t]
                counts[0] += t in found
                counts[1] += 1
                counts[2] += written and t in found
                counts[3] += written
                older = written and not row.get("newest")
                counts[4] += older and t in found
                counts[5] += older
                # lines of the latest round (the highest ``round`` in a record) left
                # out: the figure comparable with the model before that round
                earlier = written and (latest is None or row.get("round") != latest)
                counts[6] += earlier and t in found
                counts[7] += earlier
        if not labels and row["group"] in GAME_CHAT:
            game += 1
            game_flagged += bool(found & set(MODEL_TOPICS))
        elif not labels:
            other += 1
            other_flagged += bool(found & set(MODEL_TOPICS))
    if os.environ.get("AE_SHOW_MISSED"):
        for i, row in enumerate(raw):
            found = set(lists[i][0]) | (oof_topics.get(i, set()) - lists[i][1])
            missed = set(row["labels"]) & set(MODEL_TOPICS) - found  # type: ignore[call-overload]
            if missed and not row.get("frame"):
                print("  missed", sorted(missed), row["text"])
            if not row["labels"] and found & set(MODEL_TOPICS):
                print("  flagged", sorted(found & set(MODEL_TOPICS)), row["group"], row["text"])
    print("word lists + out-of-fold model (validation):")
    for t, (tp, n, wtp, wn, otp, on, etp, en) in hit.items():
        print(f"  {t:10} recall {tp / max(1, n):.3f}  on written lines {wtp / max(1, wn):.3f}  "
              f"(without the latest round's lines {etp / max(1, en):.3f}; before "
              f"{VIOLENCE.name} {otp / max(1, on):.3f})  "
              f"precision {tp / max(1, flagged[t]):.3f}")  # fmt: skip
    print(
        f"  game chat flagged: {game_flagged} of {game}; other clean lines flagged: "
        f"{other_flagged} of {other}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--pos-weight", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=0.5)
    parser.add_argument("--game-fp", type=float, default=0.0015)
    parser.add_argument("--min-precision", type=float, default=0.9)
    parser.add_argument("--prune", type=float, default=0.02)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--steady",
        nargs="*",
        default=["violence"],
        help="topics whose threshold is chosen on the scores of --splits fold splits together",
    )
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--no-generated", action="store_true", help="leave out " + GENERATED.name)
    parser.add_argument(
        "--show",
        type=int,
        default=0,
        help="print the N top game-chat lines and N missed written positives",
    )
    parser.add_argument("--dry-run", action="store_true", help="report, do not write")
    args = parser.parse_args()
    hyper = {"epochs": args.epochs, "l2": args.l2, "pos_weight": args.pos_weight,
             "rate": args.rate}  # fmt: skip

    raw = training_rows(generated=not args.no_generated)
    rows = examples(raw)
    lists = word_list_findings(raw)
    splits = [
        [[i for i, r in enumerate(raw) if fold_of(r, i, args.folds, split) == k]
         for k in range(args.folds)]
        for split in range(max(1, args.splits))
    ]  # fmt: skip
    thresholds: list[float] = []
    #: line index -> topics the out-of-fold model gives it at the chosen thresholds
    oof_topics: dict[int, set[str]] = defaultdict(set)
    print(f"tuning set: {len(rows)} lines; {args.folds}-fold out-of-fold figures "
          "(recall also on the lines not generated from frames)")  # fmt: skip
    all_rows = rows
    for topic in MODEL_TOPICS:
        rows = for_topic(all_rows, topic)
        scored, order = out_of_fold(raw, rows, lists, splits[0], topic, hyper)
        limit = choose_threshold([s[:3] for s in scored], args.game_fp, args.min_precision)
        if topic in args.steady:
            # one split's threshold is one game-chat line's out-of-fold score and moves
            # with the folds of a few lines; over several splits' scores together, the
            # same allowance is a count of several times as many scores
            pooled = [s[:3] for s in scored] + [
                s[:3]
                for split in splits[1:]
                for s in out_of_fold(raw, rows, lists, split, topic, hyper)[0]
            ]
            one = limit
            limit = choose_threshold(pooled, args.game_fp, args.min_precision)
            print(f"  {topic:10} threshold over {len(splits)} fold splits {limit:.2f} "
                  f"(first split alone {one:.2f})")  # fmt: skip
        for x, i in zip(scored, order, strict=True):
            if x[0] >= limit:
                oof_topics[i].add(topic)
        if args.show:
            game_top = sorted((x[0], raw[i]["text"]) for x, i in zip(scored, order, strict=True)
                              if x[2])[-args.show:]  # fmt: skip
            for value, text in reversed(game_top):
                print(f"    game {value:6.2f}  {text}")
            missed = sorted(
                (x[0], raw[i]["text"])
                for x, i in zip(scored, order, strict=True)
                if x[1] and x[3] and x[0] < limit
            )[: args.show]
            for value, text in missed:
                print(f"    missed {value:6.2f}  {text}")
        thresholds.append(limit)
        tp = sum(1 for s, p, _, _ in scored if p and s >= limit)
        flagged = sum(1 for s, _, _, _ in scored if s >= limit)
        positives = sum(1 for _, p, _, _ in scored if p)
        game_flagged = sum(1 for s, _, g, _ in scored if g and s >= limit)
        w_tp = sum(1 for s, p, _, h in scored if p and h and s >= limit)
        w_pos = sum(1 for _, p, _, h in scored if p and h)
        print(f"  {topic:10} threshold {limit:6.2f}  recall {tp / positives:.3f}  "
              f"precision {tp / max(1, flagged):.3f}  game-chat flagged {game_flagged}  "
              f"recall on written lines {w_tp / max(1, w_pos):.3f}")  # fmt: skip

    system_report(raw, lists, oof_topics)

    biases: list[float] = []
    weights: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(MODEL_TOPICS))
    for i, topic in enumerate(MODEL_TOPICS):
        topic_rows = for_topic(all_rows, topic)
        fit = [x for x, r in zip(topic_rows, raw, strict=True) if trains(r, topic)]
        bias, w = train(fit, topic, **hyper)
        biases.append(bias)
        for f, v in w.items():
            weights[f][i] = v
    kept = {f: tuple(round(v, 3) for v in vs) for f, vs in weights.items()
            if max(abs(v) for v in vs) >= args.prune}  # fmt: skip
    model = TopicModel(
        MODEL_TOPICS,
        tuple(round(b, 3) for b in biases),
        tuple(round(t, 3) for t in thresholds),
        kept,
    )
    text = json.dumps(model.to_json(), separators=(",", ":"), ensure_ascii=False)
    print(f"features kept: {len(kept)} of {len(weights)}; {len(text) / 1024:.0f} KiB")
    if not args.dry_run:
        args.out.write_text(text + "\n", encoding="utf-8")
        out = args.out.resolve()
        print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
