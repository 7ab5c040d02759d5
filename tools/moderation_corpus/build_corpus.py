#!/usr/bin/env python3
"""Build the labelled game-chat moderation evaluation corpus.

Writes ``corpus.jsonl`` next to this file, one JSON object per line::

    {"id": "c0001", "text": "...", "labels": [...], "lang": "en", "group": "..."}

The build is deterministic: one ``random.Random(SEED)`` drives every choice, sets are only
used for membership tests (never iterated), and nothing is read from the network or from
any other file. Every sentence frame and word list below was written for this project.

Rebuild from the repository root with::

    .venv/bin/python tools/moderation_corpus/build_corpus.py
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

SEED = 20_240_517
#: the corpus lives with the tests that measure on it
CORPUS_DIR = Path(__file__).resolve().parents[2] / "tests" / "sdk" / "moderation" / "corpus"
OUT_PATH = CORPUS_DIR / "corpus.jsonl"

CLASSES: tuple[str, ...] = (
    "profanity",
    "hate",
    "sexual",
    "self_harm",
    "violence",
    "politics",
    "personal_data",
)

GROUPS: tuple[str, ...] = (
    "clean_chat",
    "scunthorpe",
    "profanity_plain",
    "profanity_obfuscated",
    "topic_hate",
    "topic_sexual",
    "topic_self_harm",
    "topic_violence",
    "topic_politics",
    "topic_personal_data",
    "multilingual_clean",
    "multilingual_profanity",
    "edge",
)

TARGETS: dict[str, int] = {
    "clean_chat": 900,
    "scunthorpe": 200,
    "profanity_plain": 250,
    "profanity_obfuscated": 450,
    "topic_hate": 90,
    "topic_sexual": 90,
    "topic_self_harm": 90,
    "topic_violence": 90,
    "topic_politics": 90,
    "topic_personal_data": 90,
    "multilingual_clean": 200,
    "multilingual_profanity": 100,
    # "edge" is a fixed hand-written list plus a few generated long lines; see build_edge().
}

CLEAN_GROUPS = frozenset({"clean_chat", "scunthorpe", "multilingual_clean", "edge"})

# Characters that some line-splitters treat as line breaks; they must never appear in a text.
FORBIDDEN_CHARS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")

Rng = random.Random
SlotSource = Sequence[str] | Callable[[Rng], str]
Slots = dict[str, SlotSource]


# --------------------------------------------------------------------------------------
# Corpus container
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    text: str
    labels: tuple[str, ...]
    lang: str
    group: str


@dataclass(frozen=True)
class Frame:
    """A sentence template with ``{slot}`` placeholders and the labels its lines carry."""

    template: str
    labels: tuple[str, ...] = ()
    lang: str = "en"


def _frames(labels: tuple[str, ...], *templates: str) -> tuple[Frame, ...]:
    return tuple(Frame(t, labels) for t in templates)


class Corpus:
    def __init__(self) -> None:
        self.records: list[Record] = []
        self._seen: set[str] = set()
        self._seen_folded: set[str] = set()
        self._counts: Counter[str] = Counter()

    def count(self, group: str) -> int:
        return self._counts[group]

    def add(self, text: str, labels: Sequence[str], group: str, lang: str = "en") -> bool:
        if group not in GROUPS:
            raise ValueError(f"unknown group {group!r}")
        bad = [label for label in labels if label not in CLASSES]
        if bad:
            raise ValueError(f"unknown labels {bad!r} for {text!r}")
        if not text or any(ch in text for ch in FORBIDDEN_CHARS):
            raise ValueError(f"empty text or forbidden character in {text!r}")
        if text in self._seen:
            return False
        # Outside "edge" (where "gg" vs "GG" is the point) and the obfuscated group (where
        # case mixing is one of the techniques), lines must also differ after case folding.
        folded = " ".join(text.casefold().split())
        if group not in ("edge", "profanity_obfuscated"):
            if folded in self._seen_folded:
                return False
            self._seen_folded.add(folded)
        self._seen.add(text)
        self._counts[group] += 1
        self.records.append(Record(text, tuple(sorted(set(labels))), lang, group))
        return True

    def fill(
        self, group: str, target: int, make: Callable[[], tuple[str, Sequence[str], str]]
    ) -> None:
        """Call ``make`` until ``group`` holds ``target`` unique lines."""
        attempts = 0
        while self.count(group) < target:
            attempts += 1
            if attempts > 400 * target:
                raise RuntimeError(
                    f"{group}: only {self.count(group)}/{target} unique lines; add more frames"
                )
            text, labels, lang = make()
            self.add(text, labels, group, lang)


# --------------------------------------------------------------------------------------
# Template filling and decoration
# --------------------------------------------------------------------------------------

SLOT_RE = re.compile(r"\{(\w+)\}")


def render(rng: Rng, template: str, slots: Slots) -> str:
    """Replace every ``{slot}``; a slot used twice in one template gets different values."""
    used: dict[str, list[str]] = {}

    def pick(match: re.Match[str]) -> str:
        key = match.group(1)
        source = slots[key]
        value = ""
        for _ in range(8):
            value = source(rng) if callable(source) else rng.choice(source)
            if value not in used.get(key, []):
                break
        used.setdefault(key, []).append(value)
        return value

    return SLOT_RE.sub(pick, template)


def decorate(
    rng: Rng,
    text: str,
    suffixes: Sequence[str] = (),
    prefixes: Sequence[str] = (),
    p_suffix: float = 0.3,
    p_prefix: float = 0.2,
    p_capital: float = 0.25,
    p_lower: float = 0.0,
) -> str:
    if prefixes and rng.random() < p_prefix:
        text = rng.choice(prefixes) + text
    if suffixes and rng.random() < p_suffix:
        suffix = rng.choice(suffixes)
        if text.endswith(("?", "!")) and suffix.strip() in ("!", "!!", "?", "."):
            suffix = ""
        text = text + suffix
    roll = rng.random()
    if roll < p_capital:
        text = text[:1].upper() + text[1:]
    elif roll < p_capital + p_lower:
        text = text.lower()
    return text


def a_or_an(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


# --------------------------------------------------------------------------------------
# Shared slot fillers (all invented for this corpus)
# --------------------------------------------------------------------------------------

# fmt: off
NAMES = (
    "Steve", "Alex", "Kira", "Mia", "Zed", "Luna", "Rook", "Jinx", "Ivy", "Otto", "Sam",
    "Dex", "Finn", "Ana", "Milo", "Tess", "Nova", "Leo", "Pip", "Juno", "xXShadowXx",
    "PixelPete", "NightOwl", "CraftyCat", "Blaze99", "FrostByte", "TankMaster", "Mossy",
    "Quill", "Bram", "Rio", "Yuki", "Sora", "Kai", "Noor", "Ezra", "Wren", "Hugo", "Lars",
    "Ines", "bob_the_builder", "GamerGirl22", "sniper_wolf", "LilTimmy", "captain_k",
)

ITEMS = (
    "diamond sword", "iron pickaxe", "health potion", "mana potion", "enchanted bow",
    "dragon scale", "golden apple", "fire staff", "frost wand", "steel shield",
    "leather boots", "elven cloak", "ruby ring", "emerald amulet", "netherite ingot",
    "spell tome", "war hammer", "crystal shard", "phoenix feather", "grappling hook",
    "fishing rod", "saddle", "treasure map", "magic carpet", "totem of undying", "trident",
)

ITEMS_PL = (
    "arrows", "iron ingots", "emeralds", "oak logs", "health potions", "diamonds",
    "gold nuggets", "wolf pelts", "slime balls", "torches", "loaves of bread", "feathers",
    "crystals", "herbs", "mushrooms", "bones", "gems", "ender pearls", "carrots", "scrolls",
)

MOBS = (
    "dragon", "zombie", "skeleton", "creeper", "goblin", "troll", "wither", "orc", "slime",
    "lich", "hydra", "ogre", "bandit", "golem", "wyvern", "kraken", "necromancer",
    "giant rat", "ice giant", "witch", "spider", "phantom", "enderman",
)

MOBS_PL = (
    "zombies", "skeletons", "creepers", "goblins", "trolls", "orcs", "slimes", "spiders",
    "bandits", "wolves", "ghouls", "imps", "bats", "pirates", "rats", "phantoms", "pillagers",
)

BOSSES = (
    "the dragon", "the lich king", "the hydra", "the wither", "the kraken", "the ice giant",
    "the spider queen", "the final boss", "the raid boss", "the warden", "the golem king",
)

PLACES = (
    "the castle", "the bridge", "spawn", "the nether", "the village", "the mines",
    "the dungeon", "the tavern", "the harbor", "the north tower", "the swamp",
    "the desert temple", "the crossroads", "the old mill", "the arena", "the market",
    "the lighthouse", "the frozen lake", "the end portal", "the guild hall", "the ruins",
    "the volcano", "the crypt", "mid", "top lane", "the east gate",
)

GAME_CLASSES = (
    "mage", "warrior", "rogue", "healer", "paladin", "ranger", "druid", "necromancer",
    "bard", "tank", "archer", "monk", "assassin", "berserker", "cleric",
)

QUESTS = (
    "Lost Lantern", "Dragon's Hoard", "Frozen Crown", "Goblin Trouble", "Sunken Temple",
    "Wolf Moon", "Ember Road", "Broken Seal", "Silver Key", "Hollow Oak", "Pirate Cove",
)

STRUCTS = (
    "castle", "tower", "bridge", "farm", "wall", "lighthouse", "treehouse", "hut", "statue",
    "railway", "moat", "library", "greenhouse", "windmill", "ship", "mob grinder",
)

BLOCKS = (
    "stone bricks", "oak planks", "glass", "cobblestone", "sand", "quartz", "obsidian",
    "wool", "concrete", "deepslate", "copper blocks", "terracotta",
)

BIOMES = ("desert", "jungle", "mushroom island", "ice spikes biome", "mesa", "swamp", "taiga")

PETS = ("dog", "cat", "parrot", "fox", "axolotl", "bunny", "turtle", "hamster")

GOLD = (
    "50", "100", "250", "500", "750", "1k", "2k", "5k", "10k", "1200", "3000", "5000", "15k",
    "1,500", "20k", "99",
)

TIMES = (
    "9pm", "10:30", "8:00", "21:00", "7:45", "noon", "midnight", "19:30", "6pm", "20:15",
    "5:30 pm", "18:00 server time", "half past 8", "22:45", "4pm est", "11am",
)

VERSIONS = ("1.21.1", "1.20.4", "v2.3.0", "1.19.2", "0.9.8b", "3.0.12", "1.8.9", "4.1")

SERVERS = (
    "play.mygame.net", "mc.blockworld.org", "eu.questrealm.gg", "play.craftzone.io",
    "hub.pixelkingdom.net", "na.arenaclash.com", "survival.cubecraftia.net",
)
# fmt: on


def _coord(rng: Rng) -> str:
    x, y, z = rng.randint(-3000, 3000), rng.randint(5, 250), rng.randint(-3000, 3000)
    style = rng.randrange(6)
    if style == 0:
        return f"x {x} y {y} z {z}"
    if style == 1:
        return f"{x}, {y}, {z}"
    if style == 2:
        return f"{x} {y} {z}"
    if style == 3:
        return f"X:{x} Z:{z}"
    if style == 4:
        return f"({x}, {y}, {z})"
    return f"{x} / {z}"


def _date(rng: Rng) -> str:
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    style = rng.randrange(3)
    if style == 0:
        return f"2024-{month:02d}-{day:02d}"
    if style == 1:
        return f"2025-{month:02d}-{day:02d}"
    return rng.choice(("next friday", "saturday", "sunday evening", "the 14th", "may 1st"))


def _num(low: int, high: int) -> Callable[[Rng], str]:
    return lambda rng: str(rng.randint(low, high))


COMMON_SLOTS: Slots = {
    "name": NAMES,
    "item": ITEMS,
    "items": ITEMS_PL,
    "mob": MOBS,
    "mobs": MOBS_PL,
    "boss": BOSSES,
    "place": PLACES,
    "class": GAME_CLASSES,
    "quest": QUESTS,
    "struct": STRUCTS,
    "blocks": BLOCKS,
    "biome": BIOMES,
    "pet": PETS,
    "gold": GOLD,
    "time": TIMES,
    "version": VERSIONS,
    "server": SERVERS,
    "coord": _coord,
    "date": _date,
    "n": _num(2, 64),
    "level": _num(5, 99),
    "ping": _num(150, 2500),
    "fps": _num(3, 25),
    "tps": _num(4, 15),
    "gs": _num(300, 990),
    "kills": _num(3, 40),
    "dmg": _num(12, 950),
    "seed": _num(-9_000_000_000, 9_000_000_000),
    "code": _num(1000, 9999),
    "room": _num(1, 40),
}

CLEAN_SUFFIXES = (
    " lol",
    " xd",
    " xD",
    " :)",
    " :D",
    " 😂",
    " 👍",
    " haha",
    "!!",
    " ^^",
    " 🙂",
    " 🔥",
    " lmao",
    " :P",
    " 😅",
    " 🙏",
    " pls",
    ".",
    "...",
    " ngl",
)


# --------------------------------------------------------------------------------------
# Shared self-checks (our own sanity regexes, used to catch template mistakes)
# --------------------------------------------------------------------------------------

_PROF_WORDS = (
    r"\w*fuck\w*|\w*shit\w*|bitch\w*|bastards?|assholes?|ass|jackass|dumbass|smartass|"
    r"cunts?|dick(?:head)?s?|cocks?|pussy|sluts?|whores?|wankers?|twats?|pricks?|piss|"
    r"wtf|stfu|nigg\w*|faggots?|retards?|trann(?:y|ies)|kikes?|chinks?|spics?|wetbacks?"
)
PROFANITY_RE_CI = re.compile(rf"(?i)\b(?:{_PROF_WORDS})\b")
PROFANITY_RE_CS = re.compile(rf"\b(?:{_PROF_WORDS})\b")
SLUR_RE = re.compile(
    r"(?i)\b(?:nigg(?:er|a)s?|faggots?|retards?|trann(?:y|ies)|kikes?|chinks?|spics?|wetbacks?)\b"
)
TOPIC_RE = re.compile(
    r"(?i)\b(?:nudes?|porn|horny|sexy|sex|sexting|kms|suicide|kill myself|trump|biden|"
    r"obama|election|democrats?|republicans?|abortion|brexit|heil|kkk|irl)\b|@\w+\.\w+"
)
PHONE_RE = re.compile(r"\+\d{1,3} ?\(?\d|\(\d{3}\) ?\d{3}|\b\d{3}[-.]\d{3}[-.]\d{4}\b")
# Clean phrases that contain a profanity-shaped whole word; removed before the self-check.
CLEAN_ALLOWLIST = ("Moby Dick",)


def self_check(records: Sequence[Record]) -> list[str]:
    problems: list[str] = []
    for rec in records:
        text = rec.text
        for allowed in CLEAN_ALLOWLIST:
            text = text.replace(allowed, "")
        if rec.group in CLEAN_GROUPS:
            if rec.labels:
                problems.append(f"clean group with labels: {rec}")
            if PROFANITY_RE_CI.search(text) or TOPIC_RE.search(text) or PHONE_RE.search(text):
                problems.append(f"clean line looks labelled: {rec.text!r}")
            continue
        if rec.lang == "en" and rec.group != "profanity_obfuscated":
            if PROFANITY_RE_CI.search(text) and "profanity" not in rec.labels:
                problems.append(f"plain profanity without label: {rec.text!r}")
            if SLUR_RE.search(text) and "hate" not in rec.labels:
                problems.append(f"slur without hate label: {rec.text!r}")
        if rec.group == "profanity_plain" and not PROFANITY_RE_CI.search(text):
            problems.append(f"profanity_plain line without a plain word: {rec.text!r}")
        if not rec.labels and rec.group not in CLEAN_GROUPS:
            problems.append(f"unlabelled line outside clean groups: {rec}")
    return problems


# ======================================================================================
# clean_chat
# ======================================================================================

# fmt: off
CLEAN_CHAT_FRAMES: tuple[str, ...] = (
    # greetings and social
    "hi all", "hey {name}", "hello everyone", "yo {name} whats up", "good morning guys",
    "wb {name}", "hiii {name}", "sup everyone", "anyone on?", "evening all",
    "hey guys how's it going", "{name} is back!", "long time no see {name}",
    "brb getting food", "back", "gtg dinner, cya", "cya tomorrow", "night all",
    "gn everyone, fun raid", "ty {name}", "thanks for the help {name}", "np {name}",
    "anyone wanna play?", "who wants to duo?", "add me {name}", "accept my friend request {name}",
    "love you bro", "you're the best {name}", "happy birthday {name}!", "merry christmas everyone",
    "happy new year all", "eid mubarak everyone", "happy hanukkah guys", "happy diwali all",
    "my cat just walked on my keyboard", "look at my cute pet {pet}", "my {pet} is so cute",
    "its so hot today, weather is crazy", "hot weather here, playing with the fan on",
    "my mom says 10 more minutes", "doing homework then back on", "school tomorrow ugh",
    "weekend! raid time", "@{name} where are you?", "@{name} come to {place}",
    "{name} you there?", "welcome to the server {name}!", "first time here, hi",
    "whos online tonight?", "can someone show me around?", "i'm new, be nice :)",
    # gg and match results
    "gg wp", "gg everyone", "ggs that was close", "wp {name}", "nice one {name}",
    "good game all", "gg ez", "gg go next", "rematch?", "close game, gg",
    "gg {name} you carried", "that comeback was insane", "we lost but gg",
    "gg, well played team", "{name} mvp", "ez clap", "one more round?", "we won!!",
    "that was so close", "unlucky {name}", "next time {name}",
    # trading
    "wts {item} for {gold} gold", "wtb {item}, paying {gold} gold", "anyone trading {item}?",
    "trade you {n} {items} for your {item}", "selling {item}, pm me", "how much for the {item}?",
    "{gold} gold for {n} {items}?", "price check {item}", "buying {items} in bulk",
    "will trade {item} for {item}", "does anyone have a spare {item}?",
    "i can craft a {item} for you", "free {items} at {place}",
    "auction house has a {item} for {gold}", "is {gold} gold a fair price for a {item}?",
    "lf {items}, can pay {gold}", "who sells {items} cheap?", "i have {n} {items} for sale",
    # quests
    "anyone doing the {quest} quest?", "need help with {quest}", "where do i turn in {quest}?",
    "the {quest} quest giver is at {place}", "stuck on {quest}, any tips?",
    "{quest} is bugged again", "just finished {quest}!", "how long is {quest}?",
    "the {quest} reward is a {item}", "lfg {quest}, need {n} more", "lf healer for {quest}",
    "does {quest} need level {level}?", "kill the {mob} for the {quest} quest",
    "the king of the castle gives the {quest} quest", "the council of elders is in {place}",
    "talk to the council of elders first", "the queen npc has a side quest",
    "the rebel faction questline is so good", "the lore says the old king built {place}",
    # combat that is clean game talk
    "kill the {mob} first", "i killed {kills} {mobs}", "attack {place} at dawn",
    "nice headshot {name}", "{name} shot a {mob}", "we need to slay {boss}",
    "they destroyed our base", "ambush them at {place}", "fight me in the arena {name}",
    "i keep dying lol", "i died to fall damage", "i died to fall damage again",
    "this boss kills me every time", "{boss} kills me every time", "focus the healer",
    "tank pull the {mob}", "shoot the {mob} in the eye", "headshot the sniper at {place}",
    "we destroyed their tower", "destroy the portal before it opens",
    "kill {name}, he has the flag", "{name} killed me from across the map",
    "how do you kill {boss}?", "slay the {mob} and loot its chest", "i one-shot the {mob}",
    "died to a {mob} at {place}", "burn the {mob} nest", "attack on my signal",
    "shot a {mob} off the cliff", "i shot a {mob} and it exploded", "he shot a creeper",
    "double kill!", "triple kill, {name} on fire", "first blood to {name}", "nice shot {name}",
    "the {mob} one-shot me", "respawning in 10s", "revive me pls", "that {mob} destroyed me",
    "we got wiped by {boss}", "snipe the {mob} from {place}", "{kills} kills this round",
    "i'm dead 💀", "that joke killed me", "dying of laughter rn",
    "the {mob} is almost dead, push!", "flank left and attack",
    "hold the bridge, they're attacking",
    "respawn at {place}", "pvp arena at {time}?", "{name} killed the {mob} solo",
    "i died {n} times to {boss}", "we slayed {boss} first try!", "stab the {mob} from behind",
    "crit for {dmg}k damage", "my arrows keep missing the {mob}", "block then counter attack",
    "kill steal lol {name}", "{name} you stole my kill", "the {mob} keeps killing me",
    # building, coordinates, numbers
    "building a {struct} at {coord}", "need more {blocks}", "my base is at {coord}",
    "go to {coord}", "base at {coord}", "meet me at {coord}", "nice build {name}",
    "who griefed my {struct}?", "help me build a {struct}", "the {struct} is almost done",
    "what block is that?", "portal is at {coord}", "village at {coord}",
    "found a {biome} at {coord}", "my {struct} uses {n} stacks of {blocks}",
    "redstone door finally works", "farm is afk-able now", "that {struct} looks amazing",
    "stronghold at {coord}", "i'm at {coord}, come", "spawner at {coord}",
    "world seed is {seed}", "seed {seed} has a village at spawn", "party code {code}",
    "room {room} in the dungeon has the key", "i have {gold} gold", "i'm level {level}",
    "level {level} finally!", "raid at {time}", "event on {date}", "patch {version} is out",
    "meet at {time} server time", "gear score {gs} now", "need {gold} gold for the {item}",
    "top {n} on the leaderboard", "{n}/100 players online", "{dmg}k dps on the dummy",
    # lag and tech
    "so laggy rn", "server lag is insane", "ping {ping}ms ugh", "rubberbanding again",
    "tps dropped to {tps}", "is the server down?", "lag sucks", "my fps is like {fps}",
    "disconnected again", "freaking lag", "this lag is crap", "the lag is killing me",
    "restart incoming?", "server restart at {time}", "update to {version} please",
    "are you on {version}?", "server ip is {server}", "join {server}", "{server} is down?",
    "is {server} whitelist only?", "crashed lol, back in a sec", "my wifi is dying",
    "game froze at the loading screen", "anyone else stuck on the login screen?",
    # questions
    "how do i craft a {item}?", "where is {place}?", "what level do i need for {place}?",
    "what class should i play?", "is {class} good in pvp?", "best build for {class}?",
    "how do you get to {place}?", "what does the {item} do?", "can i solo {boss} at level {level}?",
    "anyone know where {name} went?", "how many {items} for a {item}?",
    "whats the drop rate on the {item}?", "do {mobs} spawn at {place}?", "is there a map?",
    "which server is this?", "how do i join a guild?", "how do i invite to party?",
    "where do i sell {items}?", "what's the fastest way to level?",
    # classes
    "what class are you?", "{class} class is op", "my class gets a buff next patch",
    "classic mode is better", "class change quest is at {place}", "{class} or {class}?",
    "i main {class}", "switching to {class}", "{class} needs a nerf", "{class} is so squishy",
    "the new {class} skills are cool", "best class for beginners?", "{class} heals are broken",
    # mild words that are not profanity under the policy
    "damn that was close", "what the hell was that", "this quest is crap", "the {mob} sucks",
    "dont be stupid {name}", "you idiot lol, wrong door", "noob", "{name} is such a noob lol",
    "loser buys the potions", "trash team, we lost", "shut up {name} lol", "dang, missed it",
    "heck yeah!", "freaking {mobs} everywhere", "oh hell no, another {mob}",
    "damn {name} nice shot", "this patch sucks", "that was stupid of me",
    "crap, forgot my {item}", "stupid {mob} knocked me off", "heck no", "dang it {name}",
    "what the heck", "ugh im such a noob", "idiot me sold the {item}", "my team is trash",
    "the {class} nerf sucks", "damn it, out of arrows", "hell yeah we won",
    "stop being a noob {name}", "shut up and farm", "this map is trash tbh",
    # game party / guild / votes, not politics
    "join my party", "party full sorry", "party invite sent {name}", "leave the party if afk",
    "party leader is {name}", "guild leader said raid at {time}", "vote to kick {name}? he's afk",
    "vote yes for the {biome} map", "vote skip the cutscene", "vote for next map pls",
    "guild meeting at {time}", "our guild needs a {class}", "{name} is the new guild leader",
    "lf guild, i'm level {level}", "party up at {place}", "kick {name} from the party he's afk",
    # banter
    "lol", "xd", "lmao {name}", "😂😂 {name}", "xD that was funny", "rofl", "haha nice",
    "that was epic", "no way", "bruh", "bro what", "{name} lol", "i'm crying 😂",
    "this game is so fun", "best update ever", "one more game then bed",
)


# The label policy's own "NOT <class>" examples, kept verbatim.
CLEAN_POLICY_EXAMPLES: tuple[str, ...] = (
    "kill the dragon", "I killed 5 zombies", "attack the castle at dawn", "nice headshot",
    "he shot a creeper", "we need to slay the boss", "they destroyed our base",
    "ambush them at the bridge", "fight me in the arena", "I died to fall damage",
    "i keep dying lol", "this boss kills me every time", "kiss the frog to finish the quest",
    "love you bro", "cute pet", "hot weather today", "join my party",
    "ask the guild leader", "vote to kick", "the king of the castle wants his crown back",
    "the council of elders in the lore is so cool", "base at x 100 y 64 z -200",
    "go to 350, 70, -1200", "5000 gold", "level 99", "raid at 10:30", "2024-05-01",
    "1.21.1", "play.mygame.net", "damn", "hell", "crap", "this sucks", "stupid", "idiot",
    "loser", "trash", "shut up", "dang", "heck", "freaking", "noob lol",
)
# fmt: on


def build_clean_chat(rng: Rng, corpus: Corpus) -> None:
    group = "clean_chat"
    target = TARGETS[group]

    def make_from(template: str) -> tuple[str, Sequence[str], str]:
        text = render(rng, template, COMMON_SLOTS)
        text = decorate(rng, text, CLEAN_SUFFIXES, p_suffix=0.3, p_capital=0.2, p_lower=0.1)
        return text, (), "en"

    # Coverage pass: the policy's own examples verbatim, then every frame once, undecorated.
    for text in CLEAN_POLICY_EXAMPLES:
        corpus.add(text, (), group, "en")
    for template in CLEAN_CHAT_FRAMES:
        if corpus.count(group) >= target:
            break
        corpus.add(render(rng, template, COMMON_SLOTS), (), group, "en")
    corpus.fill(group, target, lambda: make_from(rng.choice(CLEAN_CHAT_FRAMES)))


# ======================================================================================
# scunthorpe: clean words that contain an offensive substring
# ======================================================================================

# fmt: off
SCUNTHORPE_FRAMES: tuple[Frame, ...] = (
    *_frames(
        (),
        "anyone here from Scunthorpe?", "I'm driving through Scunthorpe tomorrow, back later",
        "Scunthorpe United won again lol", "my cousin lives in Scunthorpe",
        "{name} is from Scunthorpe, say hi", "Scunthorpe crew online!",
        "Penistone is a small town near Sheffield", "my nan lives in Penistone",
        "train to Penistone was late, sorry", "{name} moved to Penistone last year",
        "I'm in Sussex, what time is it for you?", "Essex crew online!",
        "Middlesex university has a gaming club", "West Sussex weather is awful today",
        "moving from Essex to Sussex next week", "playing from Middlesex, ping {ping}",
        "East Sussex has nice beaches", "anyone else from Essex?",
        "which classes are best for raids?", "classic servers are the best",
        "the class tree is confusing", "what class is {name}?", "i have class at {time}, brb",
        "classic mode or hardcore?", "subclass unlocks at level {level}",
        "the classroom map is fun", "classes reset next patch", "{class} is a classic pick",
        "the assassin class is op", "assassinate the bandit leader for the quest",
        "{name} plays assassin", "assassin's creed has better parkour",
        "quest: assassinate the traitor general in {place}",
        "assassins get stealth at level {level}",
        "secret passage behind the waterfall", "the passage under {place} leads to the boss",
        "found a hidden passage at {coord}", "turn the bass down lol",
        "caught a huge bass at the lake", "bass fishing event at {time}", "i play bass in a band",
        "need {n} grass blocks", "touch grass {name} lol", "the grass texture looks weird",
        "where did i put my glasses", "night vision glasses are a great item",
        "{name} crafted sunglasses lol", "pass me the {item}", "battle pass is expensive",
        "i'll pass on that quest", "mountain pass is blocked by snow",
        "password reset isn't working", "use the compass to find spawn",
        "my compass is spinning in the nether", "that castle is massive",
        "massive respect {name}", "massive lag spike", "don't embarrass me in the arena",
        "so embarrassing, i fell off the bridge", "the tavern sells a cocktail that gives speed",
        "cocktail party quest at the inn", "peacock feathers drop from the jungle birds",
        "my pet peacock follows me everywhere", "watched Hancock last night, Will Smith was great",
        "Herbie Hancock on the radio while i farm", "get in the cockpit, we fly at {time}",
        "the cockpit view is bugged", "giant cockroach boss in the sewers",
        "cockroaches spawn in the basement", "badminton minigame: hit the shuttlecock",
        "lost the shuttlecock on the roof", "reading Dickens for school, brb",
        "Charles Dickens event this week in the library",
        "Emily Dickinson poem in the library quest",
        "our teacher loves Dickinson", "shiitake mushrooms heal 2 hearts",
        "cooking shiitake soup for the buff", "damage is cumulative with the poison",
        "cumulative xp bonus this weekend", "cucumber seeds anyone?",
        "trade you a cucumber for a carrot", "read the document in the library",
        "the quest document is in your bag", "post-game analysis: we need more healers",
        "damage analysis shows {dmg}k dps", "the therapist npc in the city gives a quest",
        "new title unlocked: Dragon Slayer", "what's your title?", "titan boss spawns at {time}",
        "titan armor set looks cool", "hello from {place}", "hello {name}!",
        "turtle shell helmet gives water breathing", "shulker shell farm at {coord}",
        "watching a Hitchcock movie then raid", "the Hitchcock easter egg with the birds",
        "my mining skills are maxed", "skills reset scroll at the market", "skill issue {name} lol",
        "press the button to open the gate", "which button is sprint?",
        "my arsenal is full of bows", "Arsenal FC won last night",
        "Arsenal vs Spurs later, then raid",
        "my pet raccoon stole my {item}", "raccoon skin is so cute",
        "spicy peppers give fire resistance", "that was a spicy play {name}",
        "i shot a skeleton with my bow", "shot a {mob} off the ledge",
        "i tried but the door is locked", "nice try but the boss healed",
        "ok but the lag though", "it's hit or miss with this bow",
        "when it's hit by lightning it turns into a witch", "push it to the left",
        "push it into the lava", "grapes give +5 hp", "scrape the rust off the anchor",
        "use the sextant to navigate the sea", "craft a hoe for the farm",
        "diamond hoe is a waste of diamonds", "don't get cocky {name}",
        "my cockatoo pet can talk", "assist me with the {mob} pls",
        "we need to assemble at {place}",
        "i assume the boss resets?", "the ambassador npc is in {place}",
        "saltwater fishing spot at {place}", "prickly bushes slow you down",
        "fuchsia dye from flowers", "take the boat down the canal", "my analog stick is drifting",
        "butterfly cocoon quest is cute", "building competition at {time}",
        "thorny bushes hurt, go around", "soldiers guard the gate", "grapefruit gives speed",
        "reading Moby Dick for english class", "the bassoon music in the tavern is nice",
        "c l a s s change at level {level}", "p a s s the ball {name}", "assets are loading slow",
        "the harassment report button is in settings", "scunthorpe vs grimsby derby today",
        "the shellfish soup heals a lot", "hello hello anyone there?", "classy build {name}",
        "Wankel engine in the car mod is fast", "my grandpa is from Cockermouth",
        "the titanium sword is strong", "butterflies spawn in the meadow", "button up, it's cold",
        "Dickens night at the library", "passage to the end is open", "compass points north",
        "embassy quest in the capital", "mass effect fans here?",
        "the essex pirates are a faction in the lore", "analyse the damage log",
        "sussex lighthouse looks great in the screenshot", "peacock blue dye recipe?",
    ),
    Frame("Der Marsch zur Burg dauert {n} Minuten.", lang="de"),
    Frame("Die Marschroute führt über die Brücke.", lang="de"),
    Frame("Ich habe einen Barsch geangelt!", lang="de"),
    Frame("Der Winter im Norden ist harsch.", lang="de"),
    Frame("Die Kritik an dem Update war ziemlich harsch.", lang="de"),
    Frame("Die Marschmusik im Dorf ist laut.", lang="de"),
    Frame("Wir brauchen eine neue Marschroute, {name}.", lang="de"),
    Frame("Mi computadora es muy lenta hoy.", lang="es"),
    Frame("La disputa por el castillo empieza a las {time}.", lang="es"),
    Frame("Tu reputación en el gremio es muy alta.", lang="es"),
    Frame("La cabra de la granja da leche.", lang="es"),
    Frame("Las cabras saltan por la montaña.", lang="es"),
    Frame("Necesito una computadora nueva para jugar.", lang="es"),
    Frame("Hay una disputa entre los clanes del norte.", lang="es"),
    Frame("Ganamos reputación con los elfos, {name}.", lang="es"),
    Frame("Ajoute-moi en contact, {name}.", lang="fr"),
    Frame("Le conseil du village se réunit à midi.", lang="fr"),
    Frame("Belle conversation hier soir !", lang="fr"),
    Frame("Enchanté de faire ta connaissance.", lang="fr"),
    Frame("Le concours de construction commence à {time}.", lang="fr"),
    Frame("Tu sais conduire le bateau ?", lang="fr"),
    Frame("Je n'ai pas de connexion, désolé.", lang="fr"),
    Frame("Un petit conseil : prends la potion avant le boss.", lang="fr"),
    Frame("Meu computador travou de novo.", lang="pt"),
    Frame("A disputa pelo castelo começa às {time}.", lang="pt"),
    Frame("Sua reputação com os elfos subiu!", lang="pt"),
    Frame("Computador novo, finalmente sem lag.", lang="pt"),
)
# fmt: on

SCUNTHORPE_SUFFIXES = (" xD", " :)", " 👍", " 🙂", " ^^", " 😅")


def build_scunthorpe(rng: Rng, corpus: Corpus) -> None:
    group = "scunthorpe"
    target = TARGETS[group]

    def make_from(frame: Frame) -> tuple[str, Sequence[str], str]:
        text = render(rng, frame.template, COMMON_SLOTS)
        if frame.lang == "en":
            text = decorate(rng, text, (*SCUNTHORPE_SUFFIXES, " lol"), p_suffix=0.25)
        else:
            text = decorate(rng, text, SCUNTHORPE_SUFFIXES, p_suffix=0.25, p_capital=0.0)
        return text, frame.labels, frame.lang

    for frame in SCUNTHORPE_FRAMES:
        if corpus.count(group) >= target:
            break
        corpus.add(render(rng, frame.template, COMMON_SLOTS), frame.labels, group, frame.lang)
    corpus.fill(group, target, lambda: make_from(rng.choice(SCUNTHORPE_FRAMES)))


# ======================================================================================
# profanity (plain and obfuscated) share phrases and frames
# ======================================================================================


@dataclass(frozen=True)
class Phrase:
    kind: str  # exc | ins | adj | adv | cmd
    template: str  # contains "{w}" where the profane word goes
    word: str


# fmt: off
PHRASES: tuple[Phrase, ...] = (
    Phrase("exc", "{w}", "fuck"),
    Phrase("exc", "{w} me", "fuck"),
    Phrase("exc", "what the {w}", "fuck"),
    Phrase("exc", "for {w}'s sake", "fuck"),
    Phrase("exc", "{w} yeah", "fuck"),
    Phrase("exc", "oh {w}", "fuck"),
    Phrase("exc", "{w}", "shit"),
    Phrase("exc", "holy {w}", "shit"),
    Phrase("exc", "oh {w}", "shit"),
    Phrase("exc", "well {w}", "shit"),
    Phrase("exc", "{w}", "bullshit"),
    Phrase("exc", "that's {w}", "bullshit"),
    Phrase("exc", "{w}", "wtf"),
    Phrase("exc", "{w} was that", "wtf"),
    Phrase("exc", "{w} hell", "fucking"),
    Phrase("exc", "{w}", "motherfucker"),
    Phrase("exc", "son of a {w}", "bitch"),
    Phrase("exc", "we're so {w}", "fucked"),
    *(
        Phrase("ins", "{w}", word)
        for word in (
            "bitch", "bastard", "asshole", "ass", "cunt", "dick", "dickhead", "cock", "pussy",
            "slut", "whore", "wanker", "twat", "prick", "motherfucker", "dumbass", "jackass",
            "smartass", "fuckface", "shithead", "dipshit", "fucker",
        )
    ),
    Phrase("adj", "{w}", "fucking"),
    Phrase("adj", "{w}", "shitty"),
    Phrase("adj", "{w}", "bullshit"),
    Phrase("adj", "{w}", "motherfucking"),
    Phrase("adv", "{w}", "fucking"),
    Phrase("adv", "{w}", "motherfucking"),
    Phrase("cmd", "{w} off", "fuck"),
    Phrase("cmd", "{w} off", "piss"),
    Phrase("cmd", "{w}", "stfu"),
    Phrase("cmd", "kiss my {w}", "ass"),
    Phrase("cmd", "shut the {w} up", "fuck"),
    Phrase("cmd", "go {w} yourself", "fuck"),
    Phrase("cmd", "{w} you", "fuck"),
    Phrase("cmd", "eat {w}", "shit"),
    Phrase("cmd", "get {w}", "fucked"),
)

PROFANITY_FRAMES: dict[str, tuple[str, ...]] = {
    "exc": (
        "{p}", "{p}!", "{p}!!", "{p}, this lag", "{p}, i died again", "{p}, {boss} again",
        "{p}, that was close", "{p}, {name} behind you", "{p}, i lost my {item}",
        "{p} i forgot to save", "{p}, the server crashed", "fell in lava again, {p}",
        "lost {gold} gold... {p}", "{p} {name} you actually did it",
        "{p} look at all those {items}", "{name} got the {item}? {p}", "{p}, wrong button",
        "{p} my game froze", "{p}, {mobs} everywhere", "ok {p}", "{p} lol", "{p}, not again",
        "{p}, {name} took the loot", "{p} i missed the jump",
    ),
    "ins": (
        "{name} you {p}", "you're such {a} {p}", "stop stealing my kills you {p}",
        "who took my {item}? you {p}", "that {p} camped spawn all game",
        "report that {p}", "what {a} {p}", "the guy at {place} is {a} {p}",
        "dont be {a} {p} {name}", "lol {name} is such {a} {p}", "quit griefing you {p}",
        "some {p} broke my {struct}", "{p}", "ugh {name} is {a} {p}", "gg {name} you {p}",
        "{name} stole my {item}, what {a} {p}", "move {p}", "thanks for nothing you {p}",
        "{p} kicked me from the party", "{name} is {a} {p} lol", "you absolute {p}",
    ),
    "adj": (
        "this {p} lag", "{p} campers everywhere", "another {p} {mob}", "this {p} server",
        "my {p} internet died", "{p} matchmaking again", "this {p} patch",
        "i hate this {p} quest", "{name} and his {p} traps", "who made this {p} map",
        "{boss} and its {p} one-shots", "these {p} {mobs}",
    ),
    "adv": (
        "this game is {p} broken", "that was {p} close", "{name} is {p} cheating",
        "i'm {p} done with this", "the lag is {p} insane", "this boss is {p} hard",
        "so {p} annoying", "{boss} is {p} impossible", "that was {p} awesome",
    ),
    "cmd": (
        "{p} {name}", "{name} {p}", "{p}, noob", "{p} and let me play", "just {p}", "{p} lol",
        "{p}!!", "{p}, i had it first", "{name}, {p} with your spam", "{p}", "{p} already",
        "oh {p} {name}", "{p}, {name}, seriously", "{p}, this is my farm",
    ),
}
# fmt: on

WORD_WEIGHTS: dict[str, int] = {"fuck": 5, "shit": 4, "bitch": 3, "fucking": 3, "ass": 2}
PROFANITY_BASE_WORDS: tuple[str, ...] = tuple(dict.fromkeys(p.word for p in PHRASES))
PROFANITY_SUFFIXES = (" lol", " smh", "!!", " 😡", " 🙄", " ffs", ".", " omg", " 💀")


def _pick_phrase(rng: Rng) -> Phrase:
    weights = [WORD_WEIGHTS.get(word, 1) for word in PROFANITY_BASE_WORDS]
    word = rng.choices(PROFANITY_BASE_WORDS, weights=weights)[0]
    return rng.choice([p for p in PHRASES if p.word == word])


def _profanity_line(rng: Rng, phrase: Phrase, shown_word: str) -> str:
    frame = rng.choice(PROFANITY_FRAMES[phrase.kind])
    slots: Slots = dict(COMMON_SLOTS)
    slots["p"] = [phrase.template.replace("{w}", shown_word)]
    slots["a"] = [a_or_an(phrase.word)]
    return render(rng, frame, slots)


def build_profanity_plain(rng: Rng, corpus: Corpus) -> None:
    group = "profanity_plain"

    def make() -> tuple[str, Sequence[str], str]:
        phrase = _pick_phrase(rng)
        text = _profanity_line(rng, phrase, phrase.word)
        roll = rng.random()
        if roll < 0.07:
            text = text.upper()
        else:
            text = decorate(rng, text, PROFANITY_SUFFIXES, p_suffix=0.25, p_capital=0.3)
        return text, ("profanity",), "en"

    corpus.fill(group, TARGETS[group], make)


# ---- obfuscation ---------------------------------------------------------------------

# fmt: off
ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\u00ad")
CYRILLIC = {
    "a": "\u0430", "c": "\u0441", "e": "\u0435", "o": "\u043e", "p": "\u0440",
    "x": "\u0445", "y": "\u0443", "i": "\u0456", "s": "\u0455", "k": "\u043a",
    "h": "\u04bb", "j": "\u0458",
}
GREEK = {"o": "\u03bf", "a": "\u03b1", "v": "\u03bd", "u": "\u03c5", "i": "\u03b9", "k": "\u03ba"}
LEET = {
    "a": ("4", "@"), "e": ("3",), "i": ("1", "!"), "o": ("0",), "s": ("$", "5"),
    "t": ("7",), "u": ("v",), "l": ("1",), "g": ("9",), "b": ("8",),
}
ACCENTS = {
    "a": "áàäâãå", "e": "éèëê", "i": "íìïî", "o": "óòöôõ", "u": "úùüû", "c": "çćč",
    "n": "ñ", "s": "śš", "y": "ýÿ", "w": "ŵ", "t": "ť", "d": "ď", "r": "ŕř",
}
COMBINING = ("\u0301", "\u0300", "\u0308", "\u0336", "\u0335", "\u0332", "\u0303")
PHONETIC: dict[str, tuple[str, ...]] = {
    "fuck": ("phuck", "fuk", "fuq", "fukk", "phuk", "fvck", "fck", "fawk"),
    "fucking": ("fuckin", "fkin", "phucking", "fuking", "fcking", "fukin"),
    "fucked": ("fukd", "phucked", "fcked"),
    "fucker": ("fukker", "phucker", "fcker"),
    "shit": ("shyt", "shiet", "sh1t", "shite"),
    "shitty": ("shitteh", "shyty"),
    "bitch": ("biatch", "biotch", "bytch", "bish"),
    "ass": ("azz", "arse"),
    "asshole": ("azzhole", "arsehole", "a-hole"),
    "dick": ("dik", "dikk"),
    "dickhead": ("dikhead",),
    "cunt": ("kunt", "cvnt"),
    "pussy": ("pussi", "pusy"),
    "slut": ("slvt", "sluut"),
    "whore": ("hoar", "whor3"),
    "bastard": ("basterd", "bastad"),
    "wanker": ("wanka",),
    "motherfucker": ("mofo", "muthafucka", "motherfuka", "mf"),
    "motherfucking": ("muthafuckin", "motherfuckin"),
    "bullshit": ("bullsh1t", "bullshyt", "bs"),
    "dumbass": ("dumbazz", "dumass"),
    "jackass": ("jackazz",),
    "prick": ("prik",),
    "stfu": ("stfuuu",),
}
MATH_STYLES: dict[str, tuple[int, int | None]] = {
    "bold": (0x1D41A, 0x1D400),
    "italic": (0x1D44E, 0x1D434),
    "bold_italic": (0x1D482, 0x1D468),
    "sans_bold": (0x1D5EE, 0x1D5D4),
    "monospace": (0x1D68A, 0x1D670),
    "double_struck": (0x1D552, None),
}
# fmt: on
VOWELS = "aeiou"

Transform = Callable[[Rng, str], str | None]


def ob_leet(rng: Rng, word: str) -> str | None:
    positions = [i for i, ch in enumerate(word) if ch in LEET]
    if not positions:
        return None
    chosen = rng.sample(positions, rng.randint(1, len(positions)))
    chars = list(word)
    for i in chosen:
        chars[i] = rng.choice(LEET[chars[i]])
    return "".join(chars)


def ob_phonetic(rng: Rng, word: str) -> str | None:
    variants = PHONETIC.get(word)
    return rng.choice(variants) if variants else None


def ob_separators(rng: Rng, word: str) -> str | None:
    if len(word) < 3:
        return None
    sep = rng.choice((".", " ", "-", "_", "*", "/", "|", ". ", "~", "+", "  "))
    return sep.join(word)


def ob_repeat(rng: Rng, word: str) -> str | None:
    candidates = [i for i, ch in enumerate(word) if ch.lower() in VOWELS] or list(range(len(word)))
    chosen = sorted(rng.sample(candidates, min(len(candidates), rng.randint(1, 2))))
    out = []
    for i, ch in enumerate(word):
        out.append(ch * (rng.randint(3, 7) if i in chosen else 1))
    return "".join(out)


def ob_zero_width(rng: Rng, word: str) -> str | None:
    if len(word) < 2:
        return None
    gaps = rng.sample(range(1, len(word)), rng.randint(1, min(3, len(word) - 1)))
    same = rng.random() < 0.5
    char = rng.choice(ZERO_WIDTH)
    out = []
    for i, ch in enumerate(word):
        if i in gaps:
            out.append(char if same else rng.choice(ZERO_WIDTH))
        out.append(ch)
    return "".join(out)


def _substitute(rng: Rng, word: str, table: dict[str, str]) -> str | None:
    positions = [i for i, ch in enumerate(word) if ch in table]
    if not positions:
        return None
    chosen = rng.sample(positions, rng.randint(1, len(positions)))
    return "".join(table[ch] if i in chosen else ch for i, ch in enumerate(word))


def ob_cyrillic(rng: Rng, word: str) -> str | None:
    return _substitute(rng, word, CYRILLIC)


def ob_greek(rng: Rng, word: str) -> str | None:
    return _substitute(rng, word, GREEK)


def ob_fullwidth(rng: Rng, word: str) -> str | None:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in word)


def ob_math(rng: Rng, word: str) -> str | None:
    style = rng.choice(sorted(MATH_STYLES))
    lower, upper = MATH_STYLES[style]
    out = []
    for ch in word:
        if style == "italic" and ch == "h":
            out.append("\u210e")  # the italic h lives in Letterlike Symbols
        elif "a" <= ch <= "z":
            out.append(chr(lower + ord(ch) - ord("a")))
        elif "A" <= ch <= "Z" and upper is not None:
            out.append(chr(upper + ord(ch) - ord("A")))
        else:
            out.append(ch)
    return "".join(out)


def ob_accents(rng: Rng, word: str) -> str | None:
    positions = [i for i, ch in enumerate(word) if ch in ACCENTS]
    if not positions:
        return None
    chosen = rng.sample(positions, rng.randint(1, min(2, len(positions))))
    return "".join(rng.choice(ACCENTS[ch]) if i in chosen else ch for i, ch in enumerate(word))


def ob_combining(rng: Rng, word: str) -> str | None:
    mark = rng.choice(COMBINING)
    if mark in ("\u0336", "\u0335", "\u0332"):  # strike-through / underline: every letter
        return "".join(ch + mark for ch in word)
    positions = rng.sample(range(len(word)), rng.randint(1, min(2, len(word))))
    return "".join(ch + mark if i in positions else ch for i, ch in enumerate(word))


def ob_case_mix(rng: Rng, word: str) -> str | None:
    letters = [i for i, ch in enumerate(word) if ch.isalpha()]
    if len(letters) < 2:
        return None
    for _ in range(20):
        if rng.random() < 0.4:
            start = rng.randrange(2)
            out = "".join(
                ch.upper() if (i + start) % 2 == 0 else ch.lower() for i, ch in enumerate(word)
            )
        else:
            out = "".join(ch.upper() if rng.random() < 0.5 else ch.lower() for ch in word)
        tail = out[1:]
        if any(c.isupper() for c in tail) and any(c.islower() for c in out):
            return out
    return None


def ob_mask(rng: Rng, word: str) -> str | None:
    if word in ("wtf", "stfu") or len(word) < 3:
        return None
    mask = "*" if rng.random() < 0.85 else "#"
    if len(word) == 3:
        return word[0] + mask * 2 if rng.random() < 0.5 else word[0] + mask + word[2]
    interior = range(1, len(word) - 1)
    vowels = [i for i in interior if word[i] in VOWELS]
    style = rng.randrange(3)
    if style == 0 and vowels:
        chosen = [rng.choice(vowels)]
    elif style == 1 and vowels:
        chosen = vowels
    else:
        start = rng.randrange(1, len(word) - 2) if len(word) > 3 else 1
        chosen = [start, start + 1]
    return "".join(mask if i in chosen else ch for i, ch in enumerate(word))


TRANSFORMS: dict[str, Transform] = {
    "phonetic": ob_phonetic,
    "leet": ob_leet,
    "cyrillic": ob_cyrillic,
    "greek": ob_greek,
    "accents": ob_accents,
    "case_mix": ob_case_mix,
    "mask": ob_mask,
    "fullwidth": ob_fullwidth,
    "math": ob_math,
    "repeat": ob_repeat,
    "separators": ob_separators,
    "zero_width": ob_zero_width,
    "combining": ob_combining,
}

SINGLE_RECIPES: tuple[tuple[str, ...], ...] = tuple((name,) for name in TRANSFORMS)
COMBO_RECIPES: tuple[tuple[str, ...], ...] = (
    ("leet", "separators"),
    ("case_mix", "zero_width"),
    ("cyrillic", "repeat"),
    ("accents", "case_mix"),
    ("leet", "repeat"),
    ("fullwidth", "zero_width"),
    ("math", "separators"),
    ("greek", "zero_width"),
    ("leet", "case_mix"),
    ("phonetic", "repeat"),
    ("case_mix", "separators"),
    ("leet", "cyrillic", "zero_width"),
    ("accents", "separators"),
    ("cyrillic", "case_mix"),
    ("mask", "repeat"),
    ("phonetic", "leet"),
    ("greek", "accents"),
    ("math", "zero_width"),
)
# Singles twice, combinations once: roughly 60% single techniques, 40% combinations.
RECIPES: tuple[tuple[str, ...], ...] = SINGLE_RECIPES * 2 + COMBO_RECIPES


def obfuscate(rng: Rng, word: str, recipe: Sequence[str]) -> str | None:
    out = word
    for name in recipe:
        result = TRANSFORMS[name](rng, out)
        if result is None or result == out:
            return None
        out = result
    if word in out:
        return None
    return out


def build_profanity_obfuscated(rng: Rng, corpus: Corpus) -> tuple[Counter[str], Counter[str]]:
    group = "profanity_obfuscated"
    recipe_stats: Counter[str] = Counter()
    word_stats: Counter[str] = Counter()
    target = TARGETS[group]
    index = 0
    attempts = 0
    while corpus.count(group) < target:
        attempts += 1
        if attempts > 200 * target:
            raise RuntimeError("profanity_obfuscated: could not reach target")
        recipe = RECIPES[index % len(RECIPES)]
        phrase = _pick_phrase(rng)
        shown = obfuscate(rng, phrase.word, recipe)
        if shown is None:
            continue
        text = _profanity_line(rng, phrase, shown)
        if rng.random() < 0.2:
            text += rng.choice(PROFANITY_SUFFIXES)
        # The plain spelling must not survive in the line (case-sensitive; and, unless the
        # recipe mixes case, case-insensitive too).
        if PROFANITY_RE_CS.search(text):
            continue
        if "case_mix" not in recipe and PROFANITY_RE_CI.search(text):
            continue
        if corpus.add(text, ("profanity",), group, "en"):
            recipe_stats["+".join(recipe)] += 1
            word_stats[phrase.word] += 1
            index += 1
    return recipe_stats, word_stats


# ======================================================================================
# topic groups
# ======================================================================================

# fmt: off
HATE_GROUPS = (
    "immigrants", "muslims", "jews", "black people", "gay people", "trans people", "asians",
    "mexicans", "disabled people", "refugees", "women", "christians",
)
SLURS = (
    "nigger", "nigga", "faggot", "retard", "tranny", "kike", "chink", "spic", "wetback",
)
SLURS_OBFUSCATED = (
    "n1gger", "n!gga", "f4ggot", "fagg0t", "r3tard", "k1ke", "tr4nny", "ch1nk", "sp1c",
    "n.i.g.g.e.r", "f a g g o t", "reeetard",
)

HATE_FRAMES: tuple[Frame, ...] = (
    Frame("all {g} should die", ("hate",)),
    Frame("{g} are subhuman", ("hate",)),
    Frame("{g} are vermin", ("hate",)),
    Frame("gas the {g}", ("hate",)),
    Frame("{g} don't deserve to live", ("hate",)),
    Frame("i hate all {g}", ("hate",)),
    Frame("{g} should be wiped out", ("hate",)),
    Frame("{g} are a disease", ("hate",)),
    Frame("{g} are animals", ("hate",)),
    Frame("no {g} allowed on this server", ("hate",)),
    Frame("the world would be better without {g}", ("hate",)),
    Frame("{g} aren't even human", ("hate",)),
    Frame("kick every one of the {g} out, they're filth", ("hate",)),
    Frame("{g} are ruining everything, they're parasites", ("hate",)),
    Frame("heil hitler", ("hate",)),
    Frame("sieg heil", ("hate",)),
    Frame("white power", ("hate",)),
    Frame("kkk", ("hate",)),
    Frame("join the kkk", ("hate",)),
    Frame("sieg heil brothers", ("hate",)),
    Frame("white power!! 👊", ("hate",)),
    Frame("heil hitler {name}", ("hate",)),
    Frame("hitler was right about the {g}", ("hate",)),
    Frame("kkk guild recruiting, {g} need not apply", ("hate",)),
    Frame("our clan is white power only", ("hate",)),
    Frame("fuck all {g}", ("hate", "profanity")),
    Frame("{g} are fucking subhuman", ("hate", "profanity")),
    Frame("shut up you {s}", ("hate", "profanity")),
    Frame("{name} is a {s}", ("hate", "profanity")),
    Frame("you're such a {s}", ("hate", "profanity")),
    Frame("lol {name} plays like a {s}", ("hate", "profanity")),
    Frame("get out of our guild, {s}", ("hate", "profanity")),
    Frame("kick the {s}", ("hate", "profanity")),
    Frame("stupid {s}", ("hate", "profanity")),
    Frame("{s}", ("hate", "profanity")),
    Frame("ok {s}", ("hate", "profanity")),
    Frame("the {s} on the other team can't aim", ("hate", "profanity")),
    Frame("{name} you {so}", ("hate", "profanity")),
    Frame("shut up {so}", ("hate", "profanity")),
    Frame("gg {so}", ("hate", "profanity")),
    Frame("i'm going to hurt every one of the {g} i see irl", ("hate", "violence")),
    Frame("someone should burn down the houses of the {g} irl", ("hate", "violence")),
)

SEXUAL_FRAMES: tuple[Frame, ...] = (
    *_frames(
        ("sexual",),
        "send nudes", "send me nudes", "wanna have sex", "wanna have sex later?",
        "i'm so horny", "so horny rn", "show me your boobs", "nice boobs",
        "send naked pics", "send me naked pics", "wanna sext?", "let's try sexting",
        "let's cyber", "wanna cyber?", "you're so sexy send pics", "watching porn lol",
        "got any porn?", "this skin looks like porn",
        "are you alone? don't tell your parents, send a pic",
        "how old are you? send a pic, it's our secret",
        "don't tell your mom we talk, send me a photo",
        "delete our chat after and send a pic", "you look mature for your age, send pics",
        "want free gems? just send me a pic of you",
        "are your parents home? let's video chat in private",
        "don't tell anyone about our chats ok? send a pic",
        "i'll give you {gold} gold for a naked pic",
        "{name} is so sexy", "add me on snap for nudes", "sexting anyone?",
        "who wants to see my nudes", "rate my boobs", "i want to have sex with you",
        "you're cute, are you home alone?", "send a pic in your underwear",
        "let's go somewhere private and cyber", "horny {class}s dm me",
    ),
    Frame("send fucking nudes", ("profanity", "sexual")),
    Frame("so fucking horny", ("profanity", "sexual")),
    Frame("send nudes you slut", ("profanity", "sexual")),
    Frame("horny bitch dm me", ("profanity", "sexual")),
)

SELF_HARM_FRAMES: tuple[Frame, ...] = (
    *_frames(
        ("self_harm",),
        "i want to kill myself", "kms", "gonna kms", "i want to die", "i just want to die",
        "i cut myself again", "i've been cutting myself", "thinking about suicide",
        "i'm thinking about suicide", "i want to end my life", "i'm going to end my life tonight",
        "nobody would miss me if i was gone", "thinking about ending it all",
        "i don't want to be alive anymore", "i wish i was dead",
        "sometimes i think about killing myself", "i'm going to kill myself",
        "suicide is the only way out", "everyone would be better off without me",
        "i hurt myself on purpose", "i don't see the point in living anymore",
        "if i lose this match i'll kms", "this game makes me want to kill myself",
        "i'm done, i want to end it all", "i keep thinking about suicide",
        "i just want to disappear forever", "no one cares if i die",
        "i'm going to cut myself tonight", "i wrote a goodbye note",
        "i want to die, {name}", "{name} i'm going to end my life",
    ),
    Frame("this fucking game makes me want to kill myself", ("profanity", "self_harm")),
    Frame("fuck it, i want to die", ("profanity", "self_harm")),
    Frame("kms this shit is too much", ("profanity", "self_harm")),
)

VIOLENCE_FRAMES: tuple[Frame, ...] = (
    *_frames(
        ("violence",),
        "i'll rip your guts out irl", "blood and brains splattered everywhere",
        "decapitate him and mount his head", "i know where you live and i'll hurt you",
        "gonna shoot up the school", "torture him slowly", "beat you till you bleed irl",
        "i'll find you after school and break your legs", "i'm going to stab you irl",
        "i'll hurt your family in real life", "watch your back tomorrow, i'll hurt you",
        "i'll come to your house and beat you up", "i'm bringing a knife to school tomorrow",
        "i will kill you in real life", "i'll strangle you irl",
        "you'll be bleeding on the floor irl", "his guts spilled all over the floor",
        "skull smashed, brains everywhere", "i want to watch him bleed out",
        "rip his head off and let the blood spray", "i'll burn your house down with you in it",
        "i know your school, see you tomorrow, you're dead",
        "i'll break every bone in your body irl",
        "gonna bash your skull in at school", "i'll slit your throat irl",
        "chop him into pieces and feed him to the dogs", "i'll make you bleed in real life",
        "{name} i'm coming to your house to hurt you", "i'll beat {name} to death irl",
        "wait till i catch you irl, {name}", "torture them until they scream",
        "i hope you get hit by a car irl",
    ),
    Frame("i'll fucking kill you irl", ("profanity", "violence")),
    Frame("i'll beat the shit out of you irl", ("profanity", "violence")),
    Frame("i know where you live bitch, watch out", ("profanity", "violence")),
    Frame("i know where you live, {addr}", ("personal_data", "violence")),
    Frame("see you at {addr}, i'll hurt you", ("personal_data", "violence")),
)

PARTIES = (
    "the democrats", "the republicans", "labour", "the tories", "the conservatives",
    "the greens", "the liberals", "the CDU", "the SPD", "the socialists",
)
POLITICIANS = (
    "trump", "biden", "obama", "the president", "the prime minister", "macron", "putin",
    "the chancellor", "the mayor",
)
POLITICS_FRAMES: tuple[Frame, ...] = (
    *_frames(
        ("politics",),
        "vote for {party} in the election", "who are you voting for in the election?",
        "{pol} is a clown", "the president is a clown", "the election was rigged",
        "{party} rigged the election", "{party} are ruining the country",
        "{party} will win the midterms", "{pol} should be in jail", "i love {pol}",
        "{pol} 2028", "abortion should be legal", "abortion should be banned",
        "immigration policy is a mess", "close the borders, immigration policy is a joke",
        "communism is the answer", "capitalism is evil", "left-wing snowflakes everywhere",
        "right-wing nutjobs everywhere", "brexit was a mistake", "brexit means brexit",
        "parliament vote tomorrow on the new law", "did you watch the debate? {pol} lost",
        "gun control now", "taxes are theft", "socialism never works",
        "make america great again", "the government is corrupt",
        "the senate vote was a joke", "join the protest against {party}",
        "the {partyadj} candidate is a liar", "democrats vs republicans, who wins?",
        "trump won the election", "biden is too old", "{pol} is the worst leader ever",
        "vote {partyadj} or the country is done", "the left is destroying this country",
        "the right-wing media lies", "tax the rich", "elections are rigged anyway",
        "{pol} is a puppet", "i'm a communist lol", "the pro-life crowd is loud again",
        "pro-choice all the way", "the parliament should ban this", "{pol} has my vote",
    ),
    Frame("fuck the democrats", ("politics", "profanity")),
    Frame("fuck {pol}", ("politics", "profanity")),
    Frame("{pol} is a dickhead", ("politics", "profanity")),
    Frame("the republicans are full of shit", ("politics", "profanity")),
    Frame("{party} are a bunch of assholes", ("politics", "profanity")),
)

PERSONAL_DATA_FRAMES: tuple[Frame, ...] = (
    *_frames(
        ("personal_data",),
        "my email is {email}", "email me at {email}", "{email} add me", "my email: {email}",
        "contact me at {email_obf}", "it's {email_obf}", "add me {email_obf}",
        "my phone number is {phone}", "call me at {phone}", "text me {phone}",
        "my number: {phone}", "here's my cell {phone}", "whatsapp me {phone}",
        "I live at {addr}", "my address is {addr}", "come to {addr}", "my house is {addr}",
        "send it to {addr}", "what's your home address?", "what's your phone number?",
        "what's your email?", "give me your address", "dm me your number",
        "tell me your real address", "where do you live exactly? street and number?",
        "my mom's number is {phone}", "my address is {addr} and my number is {phone}",
        "my address is 1600 Pennsylvania Avenue", "i live at 42 Baker Street",
        "123 Main St apt 4", "call me at 0170 1234567", "my phone number is",
        "my address is", "what's your home address", "email me {email}, i'll send the map",
        "new number {phone}", "i'm at {addr}, come over", "john at gmail dot com",
        "j.smith [at] mail [dot] com", "{email}", "{phone}",
        "give me your phone number and i'll add you", "what street do you live on?",
        "john.doe@gmail.com", "555-123-4567", "(555) 123 4567", "+44 20 7946 0958",
        "+49 30 1234567", "Hauptstraße 12", "my phone number is 555-123-4567",
    ),
)

EMAIL_FIRST = (
    "john", "anna", "kira", "tom", "lena", "max", "emma", "lucas", "sofia", "noah", "mia",
    "leo", "jade", "omar", "lukas", "maria", "pierre", "joao", "sara", "ben",
)
EMAIL_LAST = (
    "doe", "smith", "miller", "brown", "schmidt", "garcia", "martin", "silva", "jones",
    "weber", "lopez", "dubois", "costa", "meyer", "taylor",
)
EMAIL_DOMAINS = (
    "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "mail.com",
    "gmx.de", "web.de", "proton.me", "yahoo.co.uk", "orange.fr", "gmail.es",
)
STREETS_EN = (
    "Baker Street", "Main St", "Oak Avenue", "Elm Street", "Maple Road", "Park Lane",
    "High Street", "Church Road", "Sunset Blvd", "Cedar Lane", "Pine Street", "Mill Road",
    "Station Road", "Victoria Avenue", "5th Avenue",
)
STREETS_DE = (
    "Hauptstraße", "Bahnhofstraße", "Gartenweg", "Schillerstraße", "Lindenallee",
    "Dorfstraße", "Goethestraße", "Am Markt",
)
CITIES = (
    "Springfield", "London", "Leeds", "Austin", "Denver", "Berlin", "Hamburg", "München",
    "Madrid", "Lyon",
)
# fmt: on


def _email_local(rng: Rng) -> str:
    first, last = rng.choice(EMAIL_FIRST), rng.choice(EMAIL_LAST)
    style = rng.randrange(6)
    if style == 0:
        return f"{first}.{last}"
    if style == 1:
        return f"{first}_{rng.randint(1, 99)}"
    if style == 2:
        return f"{first[0]}.{last}"
    if style == 3:
        return f"{first}{last}{rng.randint(1990, 2015)}"
    if style == 4:
        return f"{last}.{first}"
    return f"{first}{rng.randint(100, 999)}"


def _email(rng: Rng) -> str:
    return f"{_email_local(rng)}@{rng.choice(EMAIL_DOMAINS)}"


def _email_obf(rng: Rng) -> str:
    local = _email_local(rng)
    name, tld = rng.choice(EMAIL_DOMAINS).split(".", 1)
    tld = tld.replace(".", " dot ")
    style = rng.randrange(6)
    if style == 0:
        return f"{local} at {name} dot {tld}"
    if style == 1:
        return f"{local} [at] {name} [dot] {tld}"
    if style == 2:
        return f"{local} (at) {name} (dot) {tld}"
    if style == 3:
        return f"{local} AT {name} DOT {tld.upper()}"
    if style == 4:
        return f"{local}@{name} dot {tld}"
    return f"{local} at {name}.{tld.replace(' dot ', '.')}"


def _digits(rng: Rng, count: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(count))


def _phone(rng: Rng) -> str:
    style = rng.randrange(14)
    d3, d4 = _digits(rng, 3), _digits(rng, 4)
    formats = (
        f"555-{d3}-{d4}",
        f"(555) {d3} {d4}",
        f"555.{d3}.{d4}",
        f"+1 555 {d3} {d4}",
        f"+44 20 7946 0{d3}",
        f"07700 900{d3}",
        f"+44 7700 900{d3}",
        f"+49 30 {_digits(rng, 7)}",
        f"0170 {_digits(rng, 7)}",
        f"0151 {_digits(rng, 8)}",
        f"+49 170 {_digits(rng, 7)}",
        f"+33 6 {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)}",
        f"+34 6{_digits(rng, 2)} {d3} {_digits(rng, 3)}",
        f"+61 4{_digits(rng, 2)} {d3} {_digits(rng, 3)}",
    )
    return formats[style]


def _address(rng: Rng) -> str:
    style = rng.randrange(6)
    if style <= 2:
        addr = f"{rng.randint(1, 2500)} {rng.choice(STREETS_EN)}"
        if rng.random() < 0.35:
            addr += rng.choice((" apt ", ", apt ", ", flat ", " unit ")) + str(rng.randint(1, 40))
        if rng.random() < 0.4:
            addr += ", " + rng.choice(CITIES)
        return addr
    if style <= 4:
        addr = f"{rng.choice(STREETS_DE)} {rng.randint(1, 120)}"
        if rng.random() < 0.4:
            addr += f", {rng.randint(10000, 99999)} " + rng.choice(("Berlin", "Hamburg", "Köln"))
        return addr
    return rng.choice(("Calle Mayor ", "Rue de la Paix ", "Rua Augusta ")) + str(rng.randint(1, 90))


TOPIC_SLOTS: Slots = {
    **COMMON_SLOTS,
    "g": HATE_GROUPS,
    "s": SLURS,
    "so": SLURS_OBFUSCATED,
    "party": PARTIES,
    "partyadj": ("democrat", "republican", "labour", "tory", "green", "conservative"),
    "pol": POLITICIANS,
    "email": _email,
    "email_obf": _email_obf,
    "phone": _phone,
    "addr": _address,
}

TOPIC_DECOR: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # group: (prefixes, suffixes)
    "topic_hate": (("honestly ", "lol ", "ngl ", "tbh ", "yo "), (" lol", "!!", " 👊", " fr")),
    "topic_sexual": (
        ("hey cutie ", "psst ", "yo ", "ok but ", "hey "),
        (" pls", " 😏", " ;)", " rn", " lol", " 😉"),
    ),
    "topic_self_harm": (
        ("honestly ", "ngl ", "tbh ", "lol ", "i'm so tired, ", "after today ", "idk "),
        (" fr", " tbh", " lol", "...", " 😞", " 😔"),
    ),
    "topic_violence": (
        ("listen ", "i swear ", "ok ", "dude ", "mark my words, "),
        (" i swear", " 😡", "!!", " mark my words", " just wait"),
    ),
    "topic_politics": (
        ("honestly ", "lol ", "ngl ", "imo ", "btw "),
        (" lol", " tbh", "!!", " 🙄", " change my mind", " imo"),
    ),
    "topic_personal_data": (
        ("btw ", "ok ", "sure, ", "fine, ", "here: "),
        (" :)", " 👍", " ok?", " add me", " lol"),
    ),
}

TOPIC_FRAMES: dict[str, tuple[Frame, ...]] = {
    "topic_hate": HATE_FRAMES,
    "topic_sexual": SEXUAL_FRAMES,
    "topic_self_harm": SELF_HARM_FRAMES,
    "topic_violence": VIOLENCE_FRAMES,
    "topic_politics": POLITICS_FRAMES,
    "topic_personal_data": PERSONAL_DATA_FRAMES,
}


def build_topic(rng: Rng, corpus: Corpus, group: str) -> None:
    frames = TOPIC_FRAMES[group]
    prefixes, suffixes = TOPIC_DECOR[group]
    target = TARGETS[group]

    def make_from(frame: Frame) -> tuple[str, Sequence[str], str]:
        text = render(rng, frame.template, TOPIC_SLOTS)
        text = decorate(rng, text, suffixes, prefixes, p_suffix=0.3, p_prefix=0.25)
        return text, frame.labels, frame.lang

    for frame in frames:
        if corpus.count(group) >= target:
            break
        corpus.add(render(rng, frame.template, TOPIC_SLOTS), frame.labels, group, frame.lang)
    corpus.fill(group, target, lambda: make_from(rng.choice(frames)))


# ======================================================================================
# multilingual
# ======================================================================================

# fmt: off
ML_CLEAN: dict[str, tuple[str, ...]] = {
    "de": (
        "Hallo zusammen!", "Guten Morgen, {name}!", "Wer hat Lust auf einen Raid um {time}?",
        "Ich brauche noch {n} Eisenbarren.", "Gutes Spiel, Leute!", "Wo ist der Händler?",
        "Verkaufe {de_item} für {gold} Gold.", "Kann mir jemand beim Drachen helfen?",
        "Der Server laggt heute total.", "Bis morgen, tschüss!", "Viel Spaß beim Spielen!",
        "Das war großartig, {name}!", "Meine Basis ist bei {coord}.", "Bin gleich zurück.",
        "Wie heißt die Quest im Wald?", "Schöne Grüße an alle!", "Das Schloss ist riesig.",
        "Ich habe den Boss endlich besiegt!", "Lass uns die Brücke verteidigen.",
        "Welche Klasse spielst du?", "Ich spiele Magier.", "Danke für die Hilfe, {name}!",
        "Kein Problem, gern geschehen.", "Kommst du in meine Gruppe?",
        "Der Zauberer steht neben dem Brunnen.", "Wir treffen uns um {time} am Tor.",
        "Außerdem brauchen wir mehr Heiltränke.", "Mein Pferd ist weg, schade.",
        "Hat jemand {de_item} übrig?", "Der Drache schläft in der Höhle.",
        "Heute ist das Wetter schön, ich spiele später.", "Ich muss noch Hausaufgaben machen.",
        "Gute Nacht zusammen!", "Ich bin Level {level}.", "Die Tür schließt sich automatisch.",
        "Wo finde ich Diamanten?", "Sehr gut gespielt, Team!", "Können wir die Runde wiederholen?",
        "Das Update {version} ist da.", "Ich baue einen Turm aus Stein.",
        "Öffne bitte die Truhe, {name}.", "Wir brauchen einen Heiler für den Dungeon.",
        "Ich habe {n} Zombies besiegt.", "Greift das Lager bei Sonnenaufgang an!",
        "Das war knapp, {name}!", "Die Straße zum Dorf ist gesperrt.",
        "Die Größe des Schlosses ist beeindruckend.", "Ich heiße {name}, freut mich!",
    ),
    "es": (
        "¡Hola a todos!", "Buenos días, {name}.", "¿Alguien quiere hacer la mazmorra?",
        "Vendo {es_item} por {gold} de oro.", "¡Buena partida, equipo!", "¿Dónde está el herrero?",
        "Mañana juego otra vez.", "El servidor va muy lento hoy.",
        "Necesito {n} lingotes de hierro.", "¿Qué clase juegas?", "Yo juego de mago.",
        "Gracias por la ayuda, {name}.", "De nada, amigo.", "Nos vemos a las {time} en el puente.",
        "El dragón está en la montaña.", "¡Qué partida tan buena!", "Mi base está en {coord}.",
        "Este año el evento es genial.", "El niño del pueblo tiene una misión.",
        "Buenas noches, chicos.", "¿Me invitas al grupo?", "Vuelvo en cinco minutos.",
        "¡Feliz cumpleaños, {name}!", "Soy nivel {level}.", "Hay que defender el castillo.",
        "¿Cuánto cuesta {es_item}?", "Ya terminé la misión del bosque.",
        "La actualización {version} ya salió.", "Estoy construyendo una torre de piedra.",
        "¡Vamos, vamos, ya casi ganamos!", "¿Alguien tiene {es_item}?", "Me encanta este mapa.",
        "Cuidado con los esqueletos en la cueva.", "¡Qué tiro, {name}!",
        "Maté {n} zombis en la mina.", "El jefe final es muy difícil.", "¿Quién está conectado?",
        "Señor {name}, su pedido está listo.", "Ataquemos el castillo al amanecer.",
        "¡Olé! Ganamos la arena.", "La contraseña del cofre es secreta, jaja.",
        "Pásame las flechas, por favor.", "Soy de España, ¿y tú?", "¡Qué lag tan horrible!",
        "Necesito ayuda con la misión del pingüino.",
    ),
    "fr": (
        "Salut tout le monde !", "Bonjour {name} !", "Quelqu'un veut faire le donjon ?",
        "Je vends {fr_item} pour {gold} pièces d'or.", "Bien joué l'équipe !",
        "Où est le forgeron ?", "Le serveur lag beaucoup aujourd'hui.",
        "J'ai besoin de {n} lingots de fer.", "Tu joues quelle classe ?", "Je joue mage.",
        "Merci pour l'aide, {name} !", "De rien !", "On se retrouve à {time} au pont.",
        "Le dragon dort dans la grotte.", "Ma base est à {coord}.", "À demain, bonne nuit !",
        "Ça va ?", "Je reviens dans cinq minutes.", "Le château est très grand.",
        "Il faut défendre la tour.", "Joyeux anniversaire {name} !", "Je suis niveau {level}.",
        "C'était une très bonne partie.", "Le garçon du village donne une quête.",
        "La mise à jour {version} est sortie.", "Je construis une maison en bois.",
        "Attention aux squelettes !", "Où se trouve la forêt enchantée ?",
        "On peut être dans le même groupe ?", "J'ai enfin battu le boss !",
        "Très bien joué, {name}.", "Qui a {fr_item} à échanger ?", "Ça lag énormément, désolé.",
        "On attaque le château à l'aube.", "J'ai tué {n} zombies dans la mine.",
        "Le pêcheur près du phare a une mission.", "Bravo à toute l'équipe, c'était génial !",
        "Où êtes-vous ?", "J'ai trouvé un coffre plein d'émeraudes.",
        "Je dois faire mes devoirs, à plus.", "La forêt est très sombre la nuit.",
        "Premier arrivé au pont gagne !", "Le marché ouvre à {time}.",
    ),
    "pt": (
        "Olá a todos!", "Bom dia, {name}!", "Alguém quer fazer a masmorra?",
        "Vendo {pt_item} por {gold} de ouro.", "Boa partida, pessoal!", "Onde está o ferreiro?",
        "O servidor está muito lento hoje.", "Preciso de {n} barras de ferro.",
        "Qual classe você joga?", "Eu jogo de mago.", "Obrigado pela ajuda, {name}!",
        "De nada!", "Nos vemos às {time} na ponte.", "O dragão está na caverna.",
        "Minha base fica em {coord}.", "Até amanhã, boa noite!", "Volto em cinco minutos.",
        "Não consigo achar a missão.", "A atualização {version} já saiu.",
        "Estou construindo uma torre de pedra.", "Cuidado com os zumbis!",
        "Parabéns, {name}!", "Sou nível {level}.", "Você vem para o grupo?",
        "Que jogada incrível!", "Ação total nessa partida!", "Precisamos de um curandeiro.",
        "Vamos defender o castelo!", "Alguém tem {pt_item} sobrando?",
        "Essa missão é difícil demais.", "Matei {n} esqueletos na mina.",
        "Ataquem o castelo ao amanhecer!", "O chefe final é muito forte.",
        "Quem está online agora?", "Que lag horrível hoje.", "Tenho que fazer a lição de casa.",
        "Bora jogar mais uma?", "O mapa novo é lindo.", "Valeu, {name}!",
        "A porta do castelo está trancada.", "Consegui a espada lendária!",
        "Onde fica a vila dos pescadores?", "Você é do Brasil ou de Portugal?",
    ),
}

ML_SLOTS: Slots = {
    **COMMON_SLOTS,
    "de_item": (
        "ein Eisenschwert", "einen Heiltrank", "einen Bogen", "eine Rüstung",
        "einen Zauberstab", "einen Schild", "eine Spitzhacke",
    ),
    "es_item": (
        "una espada de hierro", "una poción de vida", "un arco", "una armadura",
        "una varita", "un escudo", "un pico",
    ),
    "fr_item": (
        "une épée en fer", "une potion de soin", "un arc", "une armure", "une baguette",
        "un bouclier", "une pioche",
    ),
    "pt_item": (
        "uma espada de ferro", "uma poção de vida", "um arco", "uma armadura",
        "uma varinha", "um escudo", "uma picareta",
    ),
}
# fmt: on


def build_multilingual_clean(rng: Rng, corpus: Corpus) -> None:
    group = "multilingual_clean"
    per_lang = TARGETS[group] // len(ML_CLEAN)
    for lang, frames in ML_CLEAN.items():
        goal = corpus.count(group) + per_lang

        def make(
            frames: tuple[str, ...] = frames, lang: str = lang
        ) -> tuple[str, Sequence[str], str]:
            text = render(rng, rng.choice(frames), ML_SLOTS)
            text = decorate(rng, text, (" :)", " xD", " 👍", " 😂", " ^^"), p_capital=0.0)
            return text, (), lang

        for template in frames:
            if corpus.count(group) >= goal:
                break
            corpus.add(render(rng, template, ML_SLOTS), (), group, lang)
        corpus.fill(group, goal, make)


# Each entry: lang -> (frames, word slots). Word slots give the plain spelling first, then
# light obfuscations that are picked about a third of the time.
# fmt: off
ML_PROFANITY: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    "de": (
        (
            "{scheisse}, schon wieder tot!", "{scheisse}, der Server ist abgestürzt.",
            "So eine {scheisse}!", "{scheisse}, {name} hat meine Truhe geklaut.",
            "Was für eine {scheisse}, dieser Lag!", "{scheisse}, mein Schwert ist weg.",
            "{fick} dich, {name}!", "{fick} dich, du Noob!", "Geh dich {ficken}, {name}!",
            "Du {ins_m}!", "{name}, du {ins_m}!", "{name}, du {ins_f}!",
            "{name} ist ein {ins_m}.", "{name} ist eine {ins_f}.",
            "Halt die Klappe, du {ins_m}.", "So ein {ins_m} hat mich gekillt.",
            "Diese {ins_f} hat mich gekillt.", "Verpiss dich, du {ins_m}!",
            "Alter, was für ein {ins_m}.", "{scheisse}, so ein {ins_m} hat gecampt.",
        ),
        {
            "scheisse": ("Scheiße", "Scheisse", "scheiße", "SCHEISSE", "Sch3iße", "Scheiiiße",
                         "Sch*iße", "Sch.e.i.ß.e"),
            "fick": ("Fick", "fick", "F1ck", "FICK", "Fikk"),
            "ficken": ("ficken", "f1cken", "fickn"),
            "ins_m": ("Arschloch", "Hurensohn", "Wichser", "Arschl0ch", "Hurens0hn", "W1chser",
                      "Wixxer", "ARSCHLOCH", "A.r.s.c.h.l.o.c.h"),
            "ins_f": ("Fotze", "Schlampe", "F0tze", "Schl4mpe", "Schlampeee"),
        },
    ),
    "es": (
        (
            "¡{mierda}, otra vez muerto!", "{mierda} de lag.", "Qué {mierda} de servidor.",
            "¡{joder}, casi lo tenía!", "{joder}, {name}, cúbreme.", "Eres un {ins}.",
            "{name}, eres un {ins}.", "Cállate, {ins}.", "Ese {ins} me robó el botín.",
            "¡{hdp}! Me mató desde lejos.", "{name} es un {ins}.", "¡{puta} madre, perdí todo!",
            "Vete a la {verga}, {name}.", "¡Qué {verga} de partida!", "{joder}, qué lag.",
            "Ese {hdp} campea en la base.", "No seas {ins}, {name}.",
            "{mierda}, me caí en la lava.",
            "Qué {ins} eres, {name}.", "¡{joder}! Otra vez el jefe.",
        ),
        {
            "mierda": ("mierda", "Mierda", "m1erda", "mierdaaa", "MIERDA", "mi3rda", "m.i.e.r.d.a"),
            "joder": ("joder", "Joder", "j0der", "JODER", "jodeeer"),
            "ins": ("cabrón", "pendejo", "gilipollas", "culero", "puto", "cabron", "pendej0",
                    "gilip0llas", "CABRÓN", "cul3ro", "put0", "hijo de puta"),
            "hdp": ("hijo de puta", "Hijo de puta", "hijo de p*ta", "hijo de pvta"),
            "puta": ("puta", "Puta", "pvta", "p*ta"),
            "verga": ("verga", "v3rga", "vergaaa"),
        },
    ),
    "fr": (
        (
            "{merde}, encore mort !", "{putain} de lag !", "{putain}, {name}, attention !",
            "{merde}, j'ai perdu mon épée.", "T'es un {connard}, {name}.", "Quel {connard} !",
            "Ferme-la, {connard}.", "Cette {salope} m'a volé mon butin.",
            "{name}, espèce d'{encule} !", "{nique} {name} !", "{putain}, le serveur a planté.",
            "{merde} alors, plus de flèches.", "Ce {connard} campe au spawn.",
            "{putain}, quel {connard}.", "Va te faire voir, {encule}.", "{nique}, je quitte.",
            "{merde}, {name} m'a tué.", "{putain} de boss !",
        ),
        {
            "merde": ("merde", "Merde", "m3rde", "MERDE", "merdeee", "m.e.r.d.e"),
            "putain": ("putain", "Putain", "PUTAIN", "putaiiin", "p*tain", "put1n"),
            "connard": ("connard", "c0nnard", "conard", "CONNARD"),
            "salope": ("salope", "sal0pe", "s@lope"),
            "encule": ("enculé", "encule", "enculééé", "3nculé"),
            "nique": ("nique ta mère", "nique ta mere", "niq ta mère", "NIQUE TA MÈRE"),
        },
    ),
    "pt": (
        (
            "{porra}, morri de novo!", "{caralho}, que lag!", "Que {merda} é essa?",
            "{foda}, perdi tudo.", "{name}, seu {fdp}!", "Esse {fdp} roubou meu loot.",
            "{porra}, {name}, me ajuda aí!", "Que {merda} de servidor.", "{caralho}, que jogada!",
            "Ah, {foda}.", "{porra}, o chefe de novo!", "{merda}, caí na lava.",
            "{caralho}, {name}, você é bom!", "Sai daqui, {fdp}.", "{foda}, o servidor caiu.",
            "Que {porra} é essa, {name}?", "{merda}, esqueci a espada.",
        ),
        {
            "porra": ("porra", "Porra", "p0rra", "PORRA", "porraaa"),
            "caralho": ("caralho", "Caralho", "c4ralho", "karalho", "CARALHO"),
            "merda": ("merda", "m3rda", "MERDA", "merdaaa"),
            "foda": ("foda-se", "Foda-se", "f0da-se", "fodase", "FODA-SE"),
            "fdp": ("filho da puta", "filho da p*ta", "filho da pvta", "FILHO DA PUTA"),
        },
    ),
}
# fmt: on


def build_multilingual_profanity(rng: Rng, corpus: Corpus) -> None:
    group = "multilingual_profanity"
    per_lang = TARGETS[group] // len(ML_PROFANITY)
    for lang, (frames, words) in ML_PROFANITY.items():
        slots: Slots = {**COMMON_SLOTS}
        for key, spellings in words.items():
            plain, variants = spellings[0], spellings[1:]

            def pick(rng: Rng, plain: str = plain, variants: tuple[str, ...] = variants) -> str:
                return rng.choice(variants) if rng.random() < 0.35 else plain

            slots[key] = pick
        goal = corpus.count(group) + per_lang

        def make(
            frames: tuple[str, ...] = frames, slots: Slots = slots, lang: str = lang
        ) -> tuple[str, Sequence[str], str]:
            text = render(rng, rng.choice(frames), slots)
            return (
                decorate(rng, text, (" 😡", " xD", " 🙄", " 💀"), p_capital=0.0),
                ("profanity",),
                lang,
            )

        corpus.fill(group, goal, make)


# ======================================================================================
# edge
# ======================================================================================

# fmt: off
EDGE_FIXED: tuple[tuple[str, str], ...] = (
    # emoji only / symbols (zxx = no linguistic content)
    ("😂😂😂", "zxx"), ("👍", "zxx"), ("🔥🔥🔥", "zxx"), ("💀", "zxx"), ("❤️", "zxx"),
    ("🎮🕹️", "zxx"), ("🙏", "zxx"), ("👋😊", "zxx"), ("🏆🥇", "zxx"), ("😭😭", "zxx"),
    ("👨\u200d👩\u200d👧\u200d👦", "zxx"), ("👍🏽", "zxx"), ("🇩🇪🇬🇧🇫🇷", "zxx"),
    ("1️⃣2️⃣3️⃣", "zxx"), ("👩🏾\u200d💻", "zxx"), ("🐉⚔️🛡️", "zxx"), ("?", "zxx"),
    ("!", "zxx"), ("...", "zxx"), (":)", "zxx"), (":D", "zxx"), ("<3", "zxx"), ("^^", "zxx"),
    ("¯\\_(ツ)_/¯", "zxx"), ("(╯°□°)╯︵ ┻━┻", "zxx"), ("o/", "zxx"), ("o7", "zxx"),
    # very short English
    ("gg", "en"), ("GG", "en"), ("g", "en"), ("k", "en"), ("a", "en"), ("x", "en"),
    ("ty", "en"), ("np", "en"), ("brb", "en"), ("afk", "en"), ("ok", "en"), ("wp", "en"),
    ("gl hf", "en"), ("hi", "en"), ("   gg wp   ", "en"), ("gg\twp", "en"),
    ("gg\u00a0wp", "en"),
    # invisible or styled characters inside clean words
    ("g\u200bg", "en"), ("hel\u200blo", "en"), ("wh\u200dat's up", "en"),
    ("ｇｇ ｗｐ", "en"), ("𝐠𝐠 𝐰𝐩", "en"), ("𝓰𝓰", "en"), ("сlаss", "en"), ("раss it", "en"),
    ("Scunthоrpe", "en"), ("g.g", "en"), ("n.o.o.b", "en"), ("s u c k s", "en"),
    # mixed scripts (mul) and other scripts, all clean greetings / chat
    ("hello привет 你好", "mul"), ("gg ребята", "mul"), ("Tokyo 東京 server anyone?", "mul"),
    ("ok спасибо", "mul"), ("こんにちは everyone", "mul"), ("thanks Спасибо 谢谢 merci", "mul"),
    ("gg 잘했어", "mul"), ("Καλημέρα guys", "mul"), ("raid at 9 ok? 好的", "mul"),
    ("Москва server lag", "mul"), ("gg يا شباب", "mul"), ("שלום gg", "mul"),
    ("مرحبا بالجميع", "ar"), ("شكرا لك", "ar"), ("\u200fمرحبا\u200f", "ar"),
    ("大家好", "zh"), ("谢谢你的帮助", "zh"), ("こんにちは", "ja"), ("よろしくお願いします", "ja"),
    ("안녕하세요", "ko"), ("감사합니다", "ko"), ("שלום לכולם", "he"), ("नमस्ते दोस्तों", "hi"),
    ("สวัสดีครับ", "th"), ("Γεια σας", "el"), ("привет всем", "ru"), ("хорошая игра", "ru"),
    ("дякую", "uk"), ("Xin chào mọi người", "vi"),
    # combining marks
    ("cafe\u0301 break, brb", "en"), ("man\u0303ana jugamos", "es"),
    ("g\u0336g\u0336", "en"), ("h\u0334e\u0334l\u0334l\u0334o\u0334", "en"),
    ("Z\u0351\u0365a\u0310l\u0300g\u0312o\u0308 lol", "en"),
)

LONG_LINE_SENTENCES = (
    "ok so here is the plan for tonight's raid",
    "everyone meet at the guild hall at 9pm server time",
    "bring at least 10 health potions and a stack of arrows",
    "the tanks pull the golem king while the healers stay behind the pillars",
    "rangers focus the adds and mages save cooldowns for the second phase",
    "if anyone dies just wait for a revive, do not run back alone",
    "after the boss we split the loot by need before greed",
    "base coordinates are x 120 y 64 z -340 if you get lost",
    "the server restarts at midnight so we have about two hours",
    "thanks everyone for the help with the castle build last week, it looks amazing",
    "please read the guild rules in the pinned message before joining",
    "we also need more oak planks and glass for the new library",
    "i'll be afk for a bit around 10:30 because of dinner",
    "gg to everyone from yesterday, that comeback at the bridge was insane",
    "new players are welcome, just ask in chat if you need gear",
)
# fmt: on


def build_edge(rng: Rng, corpus: Corpus) -> None:
    group = "edge"
    for text, lang in EDGE_FIXED:
        if not corpus.add(text, (), group, lang):
            raise RuntimeError(f"duplicate edge line {text!r}")
    for _ in range(5):
        for _attempt in range(50):
            sentences = list(LONG_LINE_SENTENCES)
            rng.shuffle(sentences)
            text = ""
            for sentence in sentences:
                candidate = f"{text}. {sentence}" if text else sentence[0].upper() + sentence[1:]
                if len(candidate) > 420:
                    break
                text = candidate
            text += "."
            if len(text) >= 370 and corpus.add(text, (), group, "en"):
                break
        else:
            raise RuntimeError("could not build a long edge line")


# ======================================================================================
# main
# ======================================================================================


def build() -> tuple[Corpus, Counter[str], Counter[str]]:
    rng = random.Random(SEED)
    corpus = Corpus()
    # Edge first so its very short lines ("gg", "lol"-like) are not taken by other groups.
    build_edge(rng, corpus)
    build_scunthorpe(rng, corpus)
    build_clean_chat(rng, corpus)
    build_profanity_plain(rng, corpus)
    recipe_stats, word_stats = build_profanity_obfuscated(rng, corpus)
    for group in TOPIC_FRAMES:
        build_topic(rng, corpus, group)
    build_multilingual_clean(rng, corpus)
    build_multilingual_profanity(rng, corpus)
    return corpus, recipe_stats, word_stats


def main() -> int:
    corpus, recipe_stats, word_stats = build()
    order = {group: i for i, group in enumerate(GROUPS)}
    records = sorted(corpus.records, key=lambda rec: order[rec.group])  # stable within a group

    problems = self_check(records)
    if problems:
        for problem in problems:
            print("SELF-CHECK:", problem, file=sys.stderr)
        return 1

    with OUT_PATH.open("w", encoding="utf-8", newline="\n") as handle:
        for number, rec in enumerate(records, start=1):
            obj = {
                "id": f"c{number:04d}",
                "text": rec.text,
                "labels": list(rec.labels),
                "lang": rec.lang,
                "group": rec.group,
            }
            handle.write(json.dumps(obj, ensure_ascii=False) + "\n")

    group_counts = Counter(rec.group for rec in records)
    label_counts = Counter(label for rec in records for label in rec.labels)
    lang_counts = Counter(rec.lang for rec in records)
    print(f"wrote {len(records)} lines to {OUT_PATH}")
    print("groups:")
    for group in GROUPS:
        print(f"  {group:24} {group_counts[group]}")
    print("labels:")
    print(f"  {'(clean)':24} {sum(1 for rec in records if not rec.labels)}")
    for label in CLASSES:
        print(f"  {label:24} {label_counts[label]}")
    print("langs:", dict(sorted(lang_counts.items())))
    print(f"obfuscation recipes ({len(recipe_stats)}):", dict(sorted(recipe_stats.items())))
    print(f"obfuscated base words ({len(word_stats)}):", dict(sorted(word_stats.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
