"""Write ``tests/sdk/moderation/corpus/train_generated.jsonl``: training lines for the
topic model, made from hand-written frames and fillers.

Each harm topic gets many phrasings of the same intent (threats with varied verbs,
targets, places and tenses; dehumanising statements about real groups; sexual
solicitation and grooming aimed at players; self-harm intent, method and slang such as
"kms" and "unalive"), and game and role-play chat gets the same words in game sense
("kill the boss", "i'm dying in this raid", "hang the banner", "shoot the target",
"the rats in the sewer"). The frames were written for training only: no line of the
held-out set was read to write them. Each line carries its template's name (``frame``),
so the trainer keeps all lines of one template in one cross-validation fold and its
out-of-fold figures are not flattered by near-copies.

Deterministic (fixed seed): run from the repository root,
``python tools/moderation_corpus/build_train_generated.py``.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "sdk" / "moderation" / "corpus" / "train_generated.jsonl"
#: Lines drawn at most from one frame (its slot combinations are sampled).
PER_FRAME = 14

# --- fillers -------------------------------------------------------------------------

GROUPS = [
    "jews", "muslims", "black people", "blacks", "gays", "gay people", "trans people",
    "immigrants", "mexicans", "asians", "chinese people", "arabs", "gypsies", "indians",
    "africans", "refugees", "lesbians", "migrants", "foreigners", "christians", "hindus",
    "sikhs", "pakistanis", "somalis", "latinos", "women", "disabled people", "roma",
    "polish people", "catholics", "jewish people", "muslim people", "queers", "homosexuals",
]  # fmt: skip
GROUP_ONE = [
    "jew", "muslim", "black guy", "immigrant", "mexican", "asian", "arab", "gypsy",
    "refugee", "indian", "gay guy", "trans person", "migrant", "foreigner", "woman",
]  # fmt: skip
VERMIN = [
    "rats", "cockroaches", "vermin", "parasites", "animals", "apes", "monkeys", "pigs",
    "dogs", "a disease", "a plague", "a virus", "filth", "trash", "garbage", "savages",
    "subhuman", "insects", "leeches", "a cancer", "scum", "mongrels", "beasts",
]  # fmt: skip
HATE_FATE = [
    "wiped out", "exterminated", "deported", "gassed", "sent back", "locked up",
    "banned from this country", "removed", "purged", "sterilized", "put in camps",
    "kicked out", "driven out", "lined up and shot", "burned", "eradicated",
]  # fmt: skip
HATE_TRAIT = [
    "criminals", "thieves", "terrorists", "rapists", "liars", "inferior", "stupid",
    "lazy", "dirty", "evil", "worthless", "a lower race", "genetically inferior",
    "less than human", "not real people", "all the same", "ruining everything",
    "destroying our country", "taking over", "replacing us",
]  # fmt: skip
FANTASY = [
    "goblins", "orcs", "zombies", "skeletons", "the undead", "trolls", "kobolds",
    "the ratmen", "slimes", "creepers", "endermen", "the bandits", "the cultists",
    "the raiders", "the drowned", "ghouls", "the imps", "spiders", "the pillagers",
    "the horde", "dark elves", "the lizardfolk", "the bugs", "the aliens", "the robots",
]  # fmt: skip
THREAT_VERB = [
    "kill", "stab", "shoot", "murder", "strangle", "beat", "hurt", "choke", "rape",
    "torture", "break", "cut", "slit", "bash", "smash", "drown", "burn", "gut",
    "jump", "knife", "find", "punch", "end",
]  # fmt: skip
THREAT_OBJ = [
    "you", "your mom", "your family", "your little brother", "your sister", "your dad",
    "you and your friends", "your dog", "your kids", "him", "her",
]  # fmt: skip
REAL_WHEN = [
    "irl", "in real life", "for real", "tomorrow at school", "after school", "tonight",
    "when you walk home", "at your house", "outside your work", "on your way to class",
    "when you least expect it", "this weekend", "in your sleep", "next time i see you",
    "at the bus stop", "in front of your parents", "no joke", "i swear to god",
]  # fmt: skip
REAL_PLACE = [
    "school", "my school", "the mall", "work", "the office", "church", "the mosque",
    "the synagogue", "the temple", "the concert", "the stadium", "the train station",
    "the airport", "the parade", "your school", "the clinic", "the library", "campus",
]  # fmt: skip
WEAPON = ["a gun", "a knife", "my dad's gun", "a rifle", "a machete", "a bat", "a bomb",
          "an ak", "a pistol", "some explosives", "a shotgun", "acid"]  # fmt: skip
GAME_TARGET = [
    "the boss", "the dragon", "the lich king", "that skeleton", "the troll", "the warden",
    "the ender dragon", "the raid boss", "their tank", "the healer", "the sniper",
    "the guards", "the mobs", "the wither", "the creeper", "the zombie", "their carry",
    "the red team", "the final boss", "that camper", "the npc", "the bandit leader",
    "their jungler", "the mini boss", "the target dummy", "the enemy base",
]  # fmt: skip
GAME_WHEN = [
    "next round", "in the arena", "this match", "in pvp", "on the next wave", "in the raid",
    "before the timer runs out", "in ranked", "in the duel", "at the bridge", "in game",
    "on respawn", "in the next lobby", "at spawn", "in the dungeon", "on the map",
]  # fmt: skip
GAME_WEAPON = ["the bow", "my sword", "the rocket launcher", "a sniper", "the crossbow",
               "my axe", "the shotgun", "tnt", "a fire spell", "the railgun", "my daggers",
               "the plasma rifle", "a trident", "the grenade launcher"]  # fmt: skip
PILLS = ["pills", "sleeping pills", "tylenol", "paracetamol", "painkillers", "my meds",
         "ibuprofen", "my mom's pills", "antidepressants", "xanax"]  # fmt: skip
HIGH_PLACE = ["the roof", "a bridge", "the bridge", "the building", "the parking garage",
              "my balcony", "the cliff by my house", "the overpass", "the tower block"]  # fmt: skip
GIFT = ["robux", "vbucks", "minecoins", "diamonds", "a skin", "gift cards", "nitro",
        "free gems", "a rare pet", "money", "steam cards", "coins"]  # fmt: skip
BODY_PIC = [
    "nudes", "pics of you", "a pic of you in your underwear", "a pic without your shirt",
    "a photo of your body", "a selfie in the shower", "pics of your feet",
    "a video of you undressing", "a naked pic", "a pic in your bra", "pics in your pajamas",
    "a picture of your chest", "something spicy", "a pic in your swimsuit",
]  # fmt: skip
GAME_PIC = [
    "pics of your base", "a screenshot of your build", "pics of your farm",
    "a screenshot of your inventory", "a pic of your castle", "a clip of the raid",
    "a screenshot of the map", "pics of your redstone", "a pic of your setup",
    "a screenshot of the bug", "your loadout", "a pic of the seed", "the replay",
]  # fmt: skip
PRIVATE = ["snapchat", "discord dms", "private chat", "whatsapp", "telegram", "kik",
           "my private server", "a call", "instagram dms", "a private room"]  # fmt: skip


def frames() -> dict[str, tuple[list[str], list[str]]]:
    """frame name -> (templates, labels). ``{slot}`` names a filler list; every
    combination may be drawn."""
    hate = ["hate"]
    vio = ["violence"]
    sex = ["sexual"]
    sh = ["self_harm"]
    ok: list[str] = []
    return {
        # hate: dehumanisation, exclusion, calls to violence against real groups
        "hate_vermin": (
            [
                "{group} are {vermin}",
                "all {group} are {vermin}",
                "{group} are nothing but {vermin}",
                "honestly {group} are {vermin}",
                "{group} are literally {vermin}",
                "those {group} are {vermin} and everyone knows it",
                "{group}? {vermin}, all of them",
            ],
            hate,
        ),
        "hate_fate": (
            [
                "{group} should be {fate}",
                "all {group} need to be {fate}",
                "we should get all the {group} {fate}",
                "i wish every one of the {group} was {fate}",
                "{group} deserve to be {fate}",
                "the world would be better if {group} were {fate}",
                "round up the {group} and have them {fate}",
            ],
            hate,
        ),
        "hate_trait": (
            [
                "{group} are {trait}",
                "all {group} are {trait}",
                "every {one} is {trait}",
                "you can't trust {group}, they're {trait}",
                "{group} are always {trait}",
                "typical {one}, they're all {trait}",
                "never trust a {one}",
            ],
            hate,
        ),
        "hate_plain": (
            [
                "i hate {group}",
                "i hate all {group}",
                "i can't stand {group}",
                "{group} make me sick",
                "{group} aren't human",
                "{group} are not even human",
                "no {group} allowed in this server",
                "no {group} on our team",
                "get these {group} out of our country",
                "{group} don't deserve rights",
                "go back to your country you dirty {one}",
                "{group} should go back where they came from",
                "kick the {one} off the team, we don't play with their kind",
                "death to {group}",
                "kill all {group}",
                "{group} should all die",
                "gas the {group}",
                "hitler was right about the {group}",
                "i'd never let a {one} in my guild",
                "{group} ruin every game they touch",
                "{group} are the reason this country is going to hell",
                "{group} breed like rats",
                "stop letting {group} into our country",
            ],
            hate,
        ),
        # benign: fantasy races, game mobs, group words in ordinary sentences
        "ok_fantasy_vermin": (
            [
                "{fantasy} are {vermin}, clear them out",
                "the {fantasy} in this zone are {vermin}",
                "kill all the {fantasy}",
                "{fantasy} should be wiped out before the gate opens",
                "we need to exterminate the {fantasy} in the cave",
                "i hate {fantasy}",
                "{fantasy} are the worst mobs",
                "the {fantasy} breed like rats in the swamp",
                "get the {fantasy} out of our village",
                "burn the {fantasy} nest",
                "{fantasy} don't drop anything good",
                "purge the {fantasy} from the crypt",
            ],
            ok,
        ),
        "ok_group_words": (
            [
                "my {one} friend is joining the raid tonight",
                "happy hanukkah to everyone celebrating",
                "eid mubarak to the muslim players in the guild",
                "our guild has players from mexico and india",
                "we have a bunch of {group} in the clan, everyone is welcome",
                "my grandparents were immigrants too",
                "the refugee camp quest is really sad",
                "the server has a pride event this weekend",
                "gay marriage is legal here",
                "the black knight guards the bridge",
                "the black dragon is weak to ice",
                "the jewish museum has a great exhibit",
                "i'm learning arabic for fun",
                "the indian food vendor in the city sells buff food",
                "chinese new year event starts friday",
                "women's league finals are on stream tonight",
                "the disabled players mod adds one hand controls",
                "the christians in the story build the cathedral",
                "trans rights, be nice in chat",
                "i don't hate anyone, i just hate this lag",
                "i hate losing to campers",
                "i hate the water temple so much",
                "i can't stand this boss music",
                "the rats in the sewer level drop cheese",
                "the pigs in my farm keep escaping",
                "my dog logged me out by stepping on the keyboard",
                "the monkeys in the jungle throw bananas",
                "the cockroach enemies explode when you step on them",
                "that skin looks like garbage lol",
                "the plague doctor npc sells cures",
                "the parasite boss heals from its minions",
            ],
            ok,
        ),
        # violence: real threats, plans against real places, gore
        "vio_threat": (
            [
                "i'm going to {verb} {obj} {when}",
                "i will {verb} {obj} {when}",
                "i'm gonna {verb} {obj} {when}",
                "ima {verb} {obj} {when}",
                "i'll {verb} {obj} {when}",
                "watch me {verb} {obj} {when}",
                "i swear i'll {verb} {obj} {when}",
                "someone should {verb} {obj} {when}",
                "i want to {verb} {obj} {when}",
                "i'm coming to {verb} {obj} {when}",
            ],
            vio,
        ),
        "vio_place": (
            [
                "i'm bringing {weapon} to {place} tomorrow",
                "gonna shoot up {place}",
                "i'm going to bomb {place}",
                "who wants to help me attack {place}",
                "i'll walk into {place} with {weapon} and end everyone",
                "everyone at {place} is going to pay",
                "we should blow up {place}",
                "i'm planning to take {weapon} to {place} on monday",
                "there's going to be a massacre at {place}",
                "i'll burn down {place}",
                "i'm going to shoot everyone at {place}",
                "set fire to {place} with them inside",
            ],
            vio,
        ),
        "vio_doxx": (
            [
                "i know where you live",
                "i know where you live and i'm coming",
                "i found your address, see you soon",
                "i know what school you go to",
                "i'll find your house and make you pay",
                "i have your address, watch yourself",
                "your address is all over the internet now, good luck",
                "i'm outside your house right now",
                "i know your real name and where your mom works",
                "i'll find you irl and you'll regret it",
                "i'm going to track you down and hurt you",
                "you better watch your back when you leave school",
                "sleep with one eye open, i know where you live",
                "i'll show up at your door with {weapon}",
                "i've got {weapon} and your address",
            ],
            vio,
        ),
        "vio_gore": (
            [
                "i'll slit your throat",
                "i'll put a bullet in your head",
                "i'll cave your skull in",
                "i want to watch you bleed out",
                "i'll break every bone in your body",
                "i'll cut your fingers off one by one",
                "i'll gut you like a fish",
                "i'm going to beat you until you can't walk",
                "i'll smash your face into the curb",
                "i hope someone shoots you in the face",
                "i hope you get stabbed",
                "i stabbed a guy last week and i'd do it again",
                "i beat my little brother until he bled",
                "i like hurting animals, i killed the neighbour's cat",
                "i tortured a dog yesterday",
                "how do i make a pipe bomb",
                "how to make a bomb at home",
                "best way to kill someone without getting caught",
                "how do i poison someone slowly",
                "where can i buy a gun without a license",
                "i want to kill my teacher",
                "i'm going to kill my stepdad",
                "i want to strangle my sister",
                "i'll pour acid on her face",
                "i'm going to run them over with my car",
            ],
            vio,
        ),
        # benign: combat, competition, death in games
        "ok_combat": (
            [
                "{verb2} {gtarget} {gwhen}",
                "i'm going to {verb2} {gtarget} {gwhen}",
                "let's {verb2} {gtarget} {gwhen}",
                "i'll {verb2} {gtarget} with {gweapon}",
                "watch me {verb2} {gtarget} {gwhen}",
                "we need to {verb2} {gtarget} before it heals",
                "i just {verb3} {gtarget} with {gweapon}",
                "can you {verb2} {gtarget} from behind",
                "{gtarget} is going to {verb2} us {gwhen}",
                "i'm gonna {verb2} you {gwhen} lol",
                "i will {verb2} you {gwhen}, get ready",
                "you're dead {gwhen}",
            ],
            ok,
        ),
        "ok_combat_plain": (
            [
                "shoot the target",
                "shoot the targets in order to open the door",
                "kill the boss first then loot",
                "i'll find your base and raid it",
                "i know where your base is, prepare for war",
                "burn their fort down",
                "i'll hunt you down in the arena",
                "watch your back, there's a creeper behind you",
                "i'll break your shield with the axe",
                "headshot! get rekt",
                "the bomb site is a, rush b",
                "plant the bomb and hold the site",
                "i'm going to kill you next round, gg",
                "blow up the bridge so they can't follow",
                "bring your gun to the dragon fight",
                "we slaughtered them in the last match",
                "i'm coming for you in the duel",
                "i'll murder you in smash bros tonight",
                "stab him in the back when the cutscene ends",
                "poison the well in the enemy camp",
                "i cut off the enemy's supply line",
                "drown the mobs in the farm",
                "throw the grenade into their bunker",
                "torture chamber dungeon has good loot",
                "the execution quest is in the castle",
                "behead the hydra to finish the quest",
                "gut the fish for bait",
                "my knight bled out in the last fight",
                "the assassin quest wants you to kill the merchant",
                "our sniper took out three of them",
                "nuke the lane with your ult",
                "strangle vines block the path",
                "choke point is the door, hold it",
                "beat the final boss yesterday",
                "i'll end you in the next game, no mercy",
                "break his legs with the mace to slow him",
                "slit the goblin's throat in the stealth kill",
                "knife kill from behind is so satisfying",
                "the bomb goes off in 30 seconds, defuse it",
                "attack the school of fish with the net",
                "we raided their village at night",
                "the massacre at the gate was brutal, our whole team died",
            ],
            ok,
        ),
        # sexual: solicitation, grooming aimed at players, explicit
        "sex_pics": (
            [
                "send me {bodypic}",
                "can you send {bodypic}",
                "send {bodypic} and i'll give you {gift}",
                "i'll give you {gift} for {bodypic}",
                "show me {bodypic}",
                "dm me {bodypic}",
                "let's trade {bodypic}, you first",
                "got any {bodypic}?",
                "if you send {bodypic} i'll carry you",
                "add me on {private} and send {bodypic}",
            ],
            sex,
        ),
        "sex_groom": (
            [
                "how old are you? you seem really mature for your age",
                "are your parents home right now",
                "do your parents check your phone",
                "don't tell your parents about our chats, it's our secret",
                "let's move this to {private} where no one can see",
                "add me on {private}, just the two of us",
                "this is our little secret ok",
                "you can trust me, i'm not like other adults",
                "have you ever kissed anyone",
                "are you a virgin",
                "what are you wearing right now",
                "do you have a boyfriend? i could be your boyfriend",
                "i'll give you {gift} if you turn on your camera",
                "turn on your cam and take your shirt off",
                "i'll give you {gift} if you do something for me on {private}",
                "are you alone in your room",
                "is anyone else home with you",
                "wanna meet up irl? i can pick you up",
                "what's your bra size",
                "you're so cute, how old are you really",
                "delete our messages after you read them",
                "i want to see you in your underwear",
                "let's play a secret game, you do what i say",
                "do you touch yourself",
                "have you ever seen a grown man naked",
                "sit on my lap and i'll give you {gift}",
                "i can teach you grown up things",
            ],
            sex,
        ),
        "sex_explicit": (
            [
                "i want to have sex with you",
                "let's have sex",
                "wanna sext?",
                "i'm so horny right now",
                "i want to touch your body",
                "take your clothes off",
                "i want to see you naked",
                "let's do naughty roleplay in {private}",
                "i want to kiss you all over",
                "i'm hard thinking about you",
                "you make me so wet",
                "come to bed with me irl",
                "i want to lick you",
                "let's get naked on cam",
                "send me a strip video",
                "want to see my private parts?",
                "i'll show you mine if you show me yours",
                "your body is so sexy",
                "i'd love to undress you",
                "let's make a baby lol send pics",
                "spread your legs",
                "bend over for me",
                "moan for me in voice chat",
                "i'm touching myself thinking of you",
                "erotic roleplay in dms?",
            ],
            sex,
        ),
        "sex_body": (
            [
                "i want to {sexverb} your {bodypart}",
                "let me {sexverb} your {bodypart}",
                "send me a pic of your {bodypart}",
                "show me your {bodypart} on cam",
                "i bet your {bodypart} looks amazing, show me",
                "can i {sexverb} your {bodypart} irl",
                "let's {sexact} on {private}",
                "wanna {sexact}? add me on {private}",
                "how old are you? wanna {sexact}",
                "i'm 30 and i like younger girls, wanna {sexact}",
                "age is just a number, let's {sexact}",
                "you're mature for your age, let's {sexact}",
            ],
            sex,
        ),
        # benign: the same words in game sense
        "ok_sex_words": (
            [
                "i want to see {gameitem}",
                "let me see {gameitem}",
                "show me {gameitem} on stream",
                "let's {gameact} on {private}",
                "wanna {gameact}? add me on {private}",
                "how old are you? wanna {gameact}",
                "i bet {gameitem} looks amazing, show me",
                "send me {gamepic}",
                "can you send {gamepic}",
                "show me {gamepic}",
                "i'll give you {gift} for your sword",
                "add me on {private} for the raid",
                "let's move to {private} for voice, the raid is starting",
                "dm me {gamepic}",
                "got any {gamepic}?",
            ],
            ok,
        ),
        "ok_gift": (
            [
                "i'll give you {gift} if you {favour}",
                "i'll pay you {gift} to {favour}",
                "{gift} if you {favour}",
                "want {gift}? {favour} and it's yours",
                "i can give you {gift} for {gameitem}",
                "trade you {gift} for {gameitem}",
                "i'll send you {gift} for {gameitem}",
                "give me {gameitem} and i'll give you {gift}",
                "send me {gameitem} and you get {gift}",
                "i'll give you {gift}, just {favour}",
            ],
            ok,
        ),
        "ok_sex_plain": (
            [
                "what are you wearing? the dragon armor set?",
                "take off your helmet, it has a speed debuff",
                "take your armor off before you swim",
                "are you alone in the dungeon or with the team?",
                "the secret room is behind the waterfall",
                "touch the crystal to open the portal",
                "lay down in the bed to skip the night",
                "breed the cows with wheat",
                "the horse needs a saddle",
                "strip the logs with your axe",
                "i'm hard stuck in gold rank",
                "this boss is so hard",
                "turn on your camera so we can see your setup",
                "is anyone else home in the base?",
                "how old are you? you play like a pro",
                "how old is your account",
                "do your parents let you play late?",
                "my parents are home so i can't use voice",
                "the naked mole rat pet is so ugly it's cute",
                "naked run, no armor, hardcore mode",
                "the bra'tor tribe lives in the north",
                "our little secret base is under the lake",
                "don't tell the other team about our secret tunnel",
                "i kissed the frog npc and it turned into a prince",
                "the succubus boss charms your party",
                "the romance option with the elf is cute",
                "get into bed, the phantom spawns if you don't sleep",
                "let's play a secret game mode, hide and seek",
                "spread out, we need to cover both lanes",
                "bend the rules a bit and use the glitch",
                "moan about lag all you want, it's the server",
                "the bard sings a love song at the inn",
                "the mating season event spawns baby dragons",
                "feed the wolves bones to tame them",
            ],
            ok,
        ),
        # self-harm: intent, plans, methods, slang, telling others to do it
        "sh_intent": (
            [
                "i want to kill myself",
                "i'm going to kill myself tonight",
                "gonna kms",
                "kms fr",
                "i'm about to kms",
                "honestly i might kms",
                "kms kms kms",
                "i want to unalive myself",
                "thinking about unaliving myself",
                "i'm going to unalive myself",
                "i want to end it all",
                "i'm going to end my life",
                "i don't want to be alive anymore",
                "i want to die for real",
                "i wish i was dead",
                "i'm tired of living",
                "i don't want to wake up tomorrow",
                "i'm going to disappear forever",
                "nobody would miss me if i was gone",
                "i'm such a burden, everyone would be better off without me",
                "i'm writing my suicide note",
                "i've been planning how to die",
                "i'm suicidal again",
                "i feel so suicidal",
                "this is my last night alive",
                "i said goodbye to everyone already",
                "i tried to kill myself last year and i want to try again",
                "i'm not going to be here much longer",
                "my life is pointless, i'm ending it",
                "i'm ready to die",
                "i just want it all to stop forever",
                "i don't see any point in living",
                "what's the point of living, i'm done",
            ],
            sh,
        ),
        "sh_method": (
            [
                "how many {pills} does it take to die",
                "i'm going to take all of {pills}",
                "i swallowed a bunch of {pills}",
                "how many {pills} would kill me",
                "i'm going to overdose on {pills} tonight",
                "i'm going to jump off {high}",
                "i'm standing on {high} right now and i'm going to jump",
                "thinking of jumping from {high}",
                "i'm going to hang myself",
                "i got the rope ready",
                "i tied the noose",
                "i cut myself again",
                "i relapsed and cut again",
                "i've been cutting my arms",
                "i'm going to slit my wrists",
                "the razor is in my hand",
                "i burn myself with lighters",
                "i've been starving myself so i disappear",
                "i'm going to step in front of a train",
                "i'm going to drive my car into a wall",
                "i'll drink bleach tonight",
                "what's the most painless way to die",
                "best way to kill yourself",
                "i'm going to shoot myself with my dad's gun",
                "i hurt myself on purpose again",
            ],
            sh,
        ),
        "sh_others": (
            [
                "kys",
                "go kys",
                "just kys already",
                "kys loser",
                "kys nobody likes you",
                "go kill yourself",
                "you should kill yourself",
                "kill yourself irl",
                "go drink bleach",
                "drink bleach and die",
                "hang yourself",
                "go hang yourself",
                "neck yourself",
                "rope yourself",
                "go rope",
                "unalive yourself",
                "you should unalive yourself",
                "do everyone a favour and end it",
                "slit your wrists",
                "jump off {high} and do us all a favour",
                "nobody would care if you killed yourself",
                "the world would be better without you, do it",
                "take {pills} and never wake up",
                "you should just die",
                "end yourself",
            ],
            sh,
        ),
        # benign: dying, killing yourself, ropes, pills, jumping in games
        "ok_sh_die": (
            [
                "if i die again i'm rage quitting",
                "i don't want to die to this boss again",
                "i want to die with full gear not like this",
                "if i die {gwhen} we lose the run",
                "i'm going to die {gwhen} lol",
                "don't let me die {gwhen}",
                "i died {gwhen} again",
                "i'd rather die {gwhen} than lose my loot",
                "we all die {gwhen} if the tank leaves",
                "i keep killing myself {gwhen}",
                "i want to end it {gwhen} with the ult",
            ],
            ok,
        ),
        "ok_fantasy_more": (
            [
                "{fantasy} are {vermin}, kill them on sight",
                "{fantasy} are {vermin}",
                "the {fantasy} should be {fate} before the siege",
                "we need to wipe out the {fantasy}",
            ],
            ok,
        ),
        "ok_sh_words": (
            [
                "i'm dying in this raid",
                "i keep dying to the same boss",
                "i died to fall damage again",
                "i keep killing myself with my own tnt",
                "i killed myself with a grenade lol",
                "jump off the cliff into the water, it's safe",
                "jump off {high} in the parkour map",
                "hang the banner above the gate",
                "hang the painting in the hall",
                "the rope bridge is broken",
                "craft a rope from string",
                "cut the rope to drop the chandelier",
                "drink the potion before the fight",
                "drink the health potion",
                "i took the red pill in the quest",
                "pills restore health in this game",
                "my character bled out",
                "i'm dead lol",
                "we're so dead, the boss is enraged",
                "end it with a finisher",
                "let's end the run here",
                "i want to end this level quickly",
                "sacrifice yourself so the team can escape",
                "my hero died on the last wave",
                "i'm out of lives",
                "one more death and we wipe",
                "i jumped off the tower and landed in the hay",
                "respawn and try again",
                "kill yourself on the spikes to reset the puzzle",
                "suicide squad is a good movie",
                "the villain kills himself at the end of the story",
                "the bleach bucket is for the dye recipe",
                "cut the grass to find rupees",
                "the razor blade trap in the dungeon hurts",
                "i'm dying of laughter",
                "this song is killing me lol",
                "i'm so tired i could sleep for a week",
                "i'm dead tired after that raid",
                "don't overdose on mana potions, there's a cooldown",
                "i'm done with this level",
                "i'm done for today, gn",
                "nobody would miss that noob tower",
                "my wrists hurt from clicking",
                "i need to stop cutting corners on redstone",
            ],
            ok,
        ),
        "ok_clean": (
            [
                "anyone want to trade iron for gold",
                "where is the blacksmith",
                "gg everyone",
                "can someone help me with the water temple",
                "brb dinner",
                "lol that was close",
                "what level do i need for the dragon",
                "nice build",
                "how do i craft a shield",
                "see you tomorrow",
                "the server restarts at 6",
                "can you heal me",
                "follow me to the portal",
                "i love this quest line",
                "who's the guild leader",
                "let's go fishing",
                "my internet is so slow today",
                "thanks for the carry",
            ],
            ok,
        ),
    }


FILL = {
    "group": GROUPS, "one": GROUP_ONE, "vermin": VERMIN, "fate": HATE_FATE,
    "trait": HATE_TRAIT, "fantasy": FANTASY, "verb": THREAT_VERB, "obj": THREAT_OBJ,
    "when": REAL_WHEN, "place": REAL_PLACE, "weapon": WEAPON, "gtarget": GAME_TARGET,
    "gwhen": GAME_WHEN, "gweapon": GAME_WEAPON, "pills": PILLS, "high": HIGH_PLACE,
    "gift": GIFT, "bodypic": BODY_PIC, "gamepic": GAME_PIC, "private": PRIVATE,
    "sexverb": ["touch", "kiss", "lick", "see", "feel", "grab", "squeeze", "rub", "suck on"],
    "bodypart": ["body", "chest", "butt", "legs", "boobs", "thighs", "bum", "private parts",
                 "lips", "naked body", "belly", "neck"],
    "sexact": ["sext", "have cyber sex", "do dirty roleplay", "get naked together",
               "touch each other", "talk dirty", "video call naked", "play truth or dare naked",
               "send each other nudes", "do something naughty"],
    "gameact": ["duo queue", "play bedwars", "build a castle", "do the raid", "trade items",
                "play hide and seek", "farm some xp", "race on the track", "speedrun the end",
                "play truth or dare in the tavern", "team up in the arena"],
    "favour": ["carry me", "help me with the boss", "build my house", "join my team",
               "revive me", "tank for us", "give me the sword", "show me the secret base",
               "teach me redstone", "farm wood for me", "play one more round",
               "send me the seed", "heal me", "clear the dungeon"],
    "gameitem": ["your sword", "the netherite pick", "that skin", "your elytra",
                 "the legendary bow", "ten diamonds", "your mount", "the map", "the rare pet",
                 "your spare armor", "the enchanted book", "a stack of iron"],
    "verb2": ["kill", "shoot", "stab", "destroy", "wreck", "smash", "burn", "snipe",
              "murder", "obliterate", "slay", "beat", "hunt", "crush", "one shot"],
    "verb3": ["killed", "shot", "stabbed", "sniped", "wrecked", "destroyed", "slayed",
              "murdered", "beheaded", "blew up", "one shot", "executed"],
}  # fmt: skip
_SLOT = re.compile(r"\{(\w+)\}")


def expand(template: str, rng: random.Random, limit: int) -> list[str]:
    slots = _SLOT.findall(template)
    if not slots:
        return [template]
    combos = list(itertools.product(*(FILL[s] for s in slots)))
    rng.shuffle(combos)
    out = []
    for combo in combos[:limit]:
        text = template
        for slot, value in zip(slots, combo, strict=True):
            text = text.replace("{" + slot + "}", value, 1)
        out.append(text)
    return out


def group_of(frame: str, labels: list[str]) -> str:
    if labels:
        return f"harm_{labels[0]}"
    return "clean_chat" if frame == "ok_clean" else "game_context"


def main() -> None:
    rng = random.Random(1717)
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    for frame, (templates, labels) in frames().items():
        per_template = max(2, PER_FRAME * 6 // len(templates))
        for number, template in enumerate(templates):
            for text in expand(template, rng, per_template):
                if text in seen:
                    continue
                seen.add(text)
                rows.append({"id": f"t{len(rows) + 1:05d}", "text": text, "labels": labels,
                             "group": group_of(frame, labels), "lang": "en",
                             "frame": f"{frame}/{number}"})  # fmt: skip
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    print(f"wrote {len(rows)} lines to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
