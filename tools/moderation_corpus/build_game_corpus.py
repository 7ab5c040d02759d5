"""Build ``game_corpus.jsonl``: game and role-play chat that must pass, harm that must
not, new obfuscations and personal data, each line labelled and put in a split.

Lines are made from hand-written frames and fillers with one ``random.Random(SEED)``,
so every run writes the same file. Each line's split (``tune`` or ``heldout``, about
30% held out) follows from a hash of its text, so it never changes when other lines
are added. The held-out split is for measuring only: word lists and patterns are never
changed to fit it.

Run from the repository root: ``.venv/bin/python tools/moderation_corpus/build_game_corpus.py``.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from pathlib import Path

SEED = 1717
OUT = (
    Path(__file__).resolve().parents[2]
    / "tests"
    / "sdk"
    / "moderation"
    / "corpus"
    / "game_corpus.jsonl"
)
HELDOUT_SHARE = 30  # percent

ITEMS = [
    "TNT",
    "lava",
    "a creeper",
    "my own grenade",
    "fall damage",
    "my own trap",
    "a rocket",
    "the void",
    "cactus",
    "my own arrow",
    "a bad potion",
    "my own fireball",
    "spikes",
]
PLACES = [
    "dungeon",
    "cave",
    "nether",
    "mines",
    "castle",
    "tower",
    "crypt",
    "arena",
    "forest",
    "swamp",
    "base",
    "tavern",
    "keep",
    "vault",
    "raid",
    "lobby",
]
THINGS = [
    "base",
    "build",
    "farm",
    "castle",
    "loot",
    "inventory",
    "map",
    "village",
    "shop",
    "redstone setup",
    "mob farm",
    "skin",
    "house",
    "island",
    "gear",
]
TRADE = [
    "trade emeralds",
    "drop off some iron",
    "help with the roof",
    "sell you a saddle",
    "borrow your anvil",
    "show you my new sword",
    "give you the diamonds",
    "fix the door",
]
BOSSES = [
    "the dragon",
    "the wither",
    "the lich king",
    "the boss",
    "the raid boss",
    "the warden",
    "the necromancer",
    "that troll",
    "the goblin chief",
    "the hydra",
]
ROLES = [
    "guild president",
    "clan president",
    "club president",
    "class president",
    "guild leader",
    "council elder",
    "team captain",
    "quartermaster",
]
NAMES = [
    "Aria",
    "Bram",
    "Cole",
    "Dax",
    "Ezra",
    "Fenn",
    "Gus",
    "Hana",
    "Ivo",
    "Juno",
    "Kai",
    "Lena",
    "Milo",
    "Nia",
    "Otto",
    "Pia",
    "Quin",
    "Rex",
    "Sol",
    "Tia",
]

CLEAN_FRAMES = [
    "I keep killing myself with {item}",
    "lol i just killed myself with {item} again",
    "accidentally killed myself with {item}",
    "almost killed myself with {item} lmao",
    "ugh killed myself on {item} twice",
    "are you alone in the {place}?",
    "r u alone in the {place} or is {name} with you",
    "are you alone at the {place} rn",
    "send pics of your {thing}",
    "send me a screenshot of your {thing}",
    "send a pic of the {thing} pls",
    "I'm coming to your house to {trade}",
    "coming to your base to {trade}",
    "im heading to your village to {trade}",
    "the {role} wants a meeting",
    "ask the {role} about the quest",
    "I played my trump card",
    "trump card beats everything in this deck",
    "we need to kill {boss}",
    "{boss} killed me again",
    "i died to {boss} like 5 times",
    "{name} got destroyed by {boss}",
    "let's raid the {place} at dawn",
    "headshot! {name} is down",
    "slay {boss} and grab the loot",
    "my character died in the {place}",
    "rip {name}, fell into {item}",
    "the {place} is full of skeletons, bring arrows",
    "blow up the {place} entrance with TNT",
    "ambush them at the {place}",
    "cock your crossbow before the gate opens",
    "grab the bastard sword from the {place}",
    "burn the spider nest in the {place}",
    "{name} is the best healer in the guild",
    "who wants to run the {place} tonight",
    "my sword does 12 damage now",
    "trade you 64 iron for a {thing}",
    "the suicide mission quest is bugged",
    "death count: 27, still no loot",
    "we got wiped at {boss} again",
    "kill all the zombies in the {place}",
    "*draws sword* you shall not pass, {name}",
    "*the innkeeper stabs the bandit*",
    "my rogue poisons the guard",
    "I cast fireball at the {place} door",
    "the king's army marched on the {place}",
    "{name} executed the traitor in the story",
    "the necromancer raised the dead in the {place}",
    "*bleeds out on the tavern floor* tell my wife",
]
SELF_HARM = [
    "kys",
    "kys {name}",
    "just kys already",
    "go kill yourself",
    "{name} go kill yourself",
    "kill yourself loser",
    "pls kill urself",
    "drink bleach",
    "go drink bleach {name}",
    "i want to unalive myself",
    "thinking about unaliving myself",
    "i want to die tonight",
    "i want to kill myself irl",
    "i want to kill myself",
    "i'm going to end it all tonight",
    "nobody would miss me if i was gone",
    "i've been cutting myself again",
    "i wish i was never born",
    "neck yourself",
    "hang yourself {name}",
    "i'm gonna overdose on my pills",
    "i just want to disappear forever",
    "i don't want to live anymore",
    "life is pointless, i want to end my life",
    "going to jump off a bridge after this game",
    "i hate being alive",
]
HATE = [
    "i hate all the {group}",
    "{group} are rats",
    "{group} are vermin",
    "{group} are animals",
    "{group} should all die",
    "{group} should be deported",
    "gas the {group}",
    "kill all the {group}",
    "death to all {group}",
    "{group} aren't even human",
    "{group} are a disease",
    "i hate {group}",
    "{group} are cockroaches",
    "heil hitler",
    "sieg heil brothers",
    "white power",
    "the master race will win",
    "{group} are parasites",
]
GROUPS = [
    "jews",
    "muslims",
    "immigrants",
    "black people",
    "gays",
    "trans people",
    "mexicans",
    "refugees",
    "asians",
    "arabs",
    "women",
    "migrants",
    "foreigners",
    "gypsies",
]
VIOLENCE = [
    "im gonna bomb the {real} tomorrow",
    "i will shoot up the {real}",
    "gonna shoot up my {real} on monday",
    "i'll burn down the {real} tonight",
    "bringing a gun to the {real} tomorrow",
    "i know where you live and i'll hurt you",
    "im coming to your house",
    "i'm going to stab you irl",
    "i will find you and kill you irl",
    "watch me blow up the {real} for real",
    "i'm gonna kill you tomorrow at school",
    "going to attack the {real} this weekend",
    "i'll beat you till you bleed irl",
]
REAL = [
    "school",
    "mall",
    "church",
    "mosque",
    "synagogue",
    "airport",
    "stadium",
    "hospital",
    "supermarket",
    "concert",
    "high school",
    "university",
    "train station",
]
SEXUAL = [
    "are you alone at home?",
    "r u alone in your room",
    "send pics of your body",
    "send nudes",
    "send me a pic of you in your underwear",
    "don't tell your parents about us",
    "wanna have sex",
    "let's cyber",
    "take off your clothes",
    "are your parents home?",
    "send me a selfie in bed",
    "our little secret ok {name}",
    "how old are you really",
]
POLITICS = [
    "vote for trump in the election",
    "biden is the worst president",
    "the election was rigged",
    "democrats are ruining everything",
    "republicans are idiots",
    "abortion should be banned",
    "brexit was a mistake",
    "the prime minister should resign",
    "communism is the answer",
]
PROFANE_WORDS = ["fuck", "shit", "bitch", "cunt", "dick", "twat", "asshole", "bastard"]
OBFUSCATE = [
    ("fuck", ["fu<k", "fuc|<", "f♥u♥c♥k", "fu ck", "🅵🆄🅲🅺", "fuq", "f·u·c·k", "FUϹK", "ƒuck"]),
    ("shit", ["SΗIT", "s·h·i·t", "sh it", "ᏚᎻᎥᎢ", "sht", "s♥h♥i♥t", "🆂🅷🅸🆃", "sh!t"]),
    ("bitch", ["bit ch", "ΒΙΤCΗ", "b·i·t·c·h", "b!tch", "🅱🅸🆃🅲🅷", "biotch"]),
    ("cunt", ["cnut", "cu nt", "c·u·n·t", "ϹUΝΤ", "🅲🆄🅽🆃"]),
    ("dick", ["di ck", "|)!(|<", "d·i·c·k", "ᎠICK", "🅳🅸🅲🅺"]),
    ("fucking", ["fu cking", "fuqing", "f\u3164u\u3164c\u3164king", "fu<king"]),
]
OBF_FRAMES = [
    "{w}",
    "{w} you",
    "what the {w}",
    "{w} this game",
    "oh {w}",
    "you little {w}",
    "{w} off {name}",
    "this lag is {w}",
    "{name} is a {w}",
    "shut up {w}",
]
CLEAN_NAMES = [
    "Twatt",
    "Bitchfield",
    "Shitterton",
    "Dikshit",
    "Shittu",
    "Scunthorpe",
    "Philip K. Dick",
    "Penistone",
    "Cockburn",
    "King Cnut",
]
NAME_FRAMES = [
    "I grew up in {n}",
    "reading {n} tonight",
    "the bus to {n} is late",
    "my teacher is Mr {n}",
    "{n} has a nice castle",
    "we met in {n}",
]
PII = [
    ("call me on +44 20 7946 0{d3}", "personal_data"),
    ("my number is +1 555 01{d2}", "personal_data"),
    ("ring +49 30 901820{d1}", "personal_data"),
    ("whatsapp +33 6 12 34 5{d1} 78", "personal_data"),
    ("card 4111 1111 1111 1111 exp 09/29", "personal_data"),
    ("join 192.168.{d1}.{d2}", "personal_data"),
    ("i live near SW1A 1AA", "personal_data"),
    ("postcode M1 1AE", "personal_data"),
    ("my zip is 902{d2}", "personal_data"),
    ("I'm 1{age} and I live in {town}", "personal_data"),
    ("im 1{age} from {town}", "personal_data"),
    ("whats ur phone number", "personal_data"),
    ("what's your real name {name}", "personal_data"),
    ("gimme ur addy", "personal_data"),
    ("send me your address {name}", "personal_data"),
    ("ich wohne Kerkstraat 1{d1}", "personal_data"),
    ("abito in via Roma 1{d1}", "personal_data"),
    ("my email is {lname}@example.com", "personal_data"),
]
TOWNS = ["Leeds", "Ohio", "Texas", "Berlin", "Manchester", "Lyon", "Toronto", "Perth"]
PII_CLEAN = [
    "base at x 1{d2} y 64 z -{d3}",
    "that costs 5{d3} gold",
    "server 1.20.{d1} port 25565",
    "I was 1{age} when I started playing",
    "im 1{age} from the quest reward lol",
    "raid at 10:{d2} on 12.03.2024",
    "lvl 1{d1} from spawn",
    "4111111111111112 damage lol",
    "what is your name, traveller?",
    "i have 1{d3} hp",
]


def split_of(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "heldout" if digest[0] * 100 // 256 < HELDOUT_SHARE else "tune"


def fill(frame: str, rng: random.Random) -> str:
    return frame.format(
        item=rng.choice(ITEMS), place=rng.choice(PLACES), thing=rng.choice(THINGS),
        trade=rng.choice(TRADE), boss=rng.choice(BOSSES), role=rng.choice(ROLES),
        name=rng.choice(NAMES), group=rng.choice(GROUPS), real=rng.choice(REAL),
        town=rng.choice(TOWNS), lname=rng.choice(NAMES).lower(), age=rng.randint(0, 5),
        d1=rng.randint(1, 9), d2=rng.randint(10, 99), d3=rng.randint(100, 999),
    )  # fmt: skip


def build() -> list[dict[str, object]]:
    rng = random.Random(SEED)
    rows: list[tuple[str, str, list[str]]] = []
    seen: set[str] = set()

    def add(group: str, text: str, labels: list[str]) -> None:
        if text.casefold() not in seen:
            seen.add(text.casefold())
            rows.append((group, text, sorted(labels)))

    for _ in range(1200):
        add("game_context", fill(rng.choice(CLEAN_FRAMES), rng), [])
    for _ in range(300):
        frame = rng.choice(NAME_FRAMES).replace("{n}", rng.choice(CLEAN_NAMES))
        add("game_context", fill(frame, rng), [])
    for frames, label, n in ((SELF_HARM, "self_harm", 300), (HATE, "hate", 400),
                             (VIOLENCE, "violence", 400), (SEXUAL, "sexual", 200),
                             (POLITICS, "politics", 60)):  # fmt: skip
        for _ in range(n):
            add(f"harm_{label}", fill(rng.choice(frames), rng), [label])
    for _ in range(700):
        _, spellings = rng.choice(OBFUSCATE)
        word = rng.choice(spellings)
        add("obfuscated", fill(rng.choice(OBF_FRAMES).replace("{w}", word), rng), ["profanity"])
    for _ in range(500):
        frame, label = rng.choice(PII)
        add("pii", fill(frame, rng), [label] if label else [])
    for _ in range(300):
        add("game_context", fill(rng.choice(PII_CLEAN), rng), [])
    out: list[dict[str, object]] = []
    for n, (group, text, labels) in enumerate(rows, 1):
        out.append({"id": f"g{n:04d}", "text": text, "labels": labels, "lang": "en",
                    "group": group, "split": split_of(text)})  # fmt: skip
    return out


def main() -> None:
    rows = build()
    with OUT.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts = Counter((str(r["group"]), str(r["split"])) for r in rows)
    print(f"{len(rows)} lines -> {OUT.name}")
    for (group, split), n in sorted(counts.items()):
        print(f"  {group:16} {split:8} {n}")


if __name__ == "__main__":
    main()
