"""Write ``holdout.jsonl``: a hand-written, held-out evaluation set for the chat filter.

Every line below was typed by hand, the way players type: lowercase, typos, slang,
abbreviations, emoji, usernames, coordinates and run-on sentences. Nothing is generated from
templates, so the set is independent of ``build_corpus.py`` and of the filter's code. It uses
the same record format, label names, group names and label policy as ``corpus.jsonl`` (see
README.md, "Held-out set").

Content warning: the labelled groups hold profanity, slurs, hateful slogans, sexual
solicitation, self-harm statements and threats. They are short and generic test lines for a
child-safety filter; none of them give instructions.

Invisible or look-alike characters are written as ``\\u`` escapes so the source stays
readable; the JSONL file stores the real characters (``ensure_ascii=False``).

Run from the repository root::

    .venv/bin/python tools/moderation_corpus/build_holdout.py

The output is byte-identical on every run. The script checks labels, groups, languages, ids,
duplicates and group sizes before writing and exits non-zero if a check fails.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

from build_corpus import CLASSES, GROUPS  # run as a script: this folder is on sys.path

OUT_PATH = (
    Path(__file__).resolve().parents[2]
    / "tests"
    / "sdk"
    / "moderation"
    / "corpus"
    / "holdout.jsonl"
)

LABELS = CLASSES
BASE_LANGS = {"en", "de", "es", "fr", "pt"}
# The held-out set adds Italian and Dutch clean lines to ``multilingual_clean``.
EXTRA_CLEAN_LANGS = {"it", "nl"}
EDGE_LANGS = BASE_LANGS | {
    "ar",
    "zh",
    "ja",
    "ko",
    "he",
    "hi",
    "th",
    "el",
    "ru",
    "uk",
    "vi",
    "mul",
    "zxx",
}

# A record spec is either a plain string (the group's default labels and language) or a
# tuple ``(text, extra_labels)`` / ``(text, extra_labels, lang)``.
Spec = str | tuple[str, list[str]] | tuple[str, list[str], str]

# --------------------------------------------------------------------------------------
# clean_chat: everyday chat across genres. Game combat and mild words are clean.
# --------------------------------------------------------------------------------------
CLEAN_CHAT: list[Spec] = [
    # Minecraft / block games
    "anyone got spare iron? need like 12 for a pickaxe",
    "base is at x 1204 z -877 dont grief pls",
    "lol i fell in lava with all my diamonds 💀",
    "who took the elytra from the chest??",
    "brb mom says dinner",
    "can some1 tp me to spawn",
    "/tpa Steve_2011",
    "ok whos running the mob farm its lagging the whole server",
    "tps is like 12 rn, admin pls restart",
    "selling 64 oak logs for 3 diamonds, msg me",
    "creeper blew up my house AGAIN",
    "i killed the ender dragon first try!!!",
    "how do u make a beacon",
    "seed is -4172893016254 if anyone wants it, spawns u next to a village",
    "nether portal coords: 88 / 70 / -312",
    "my villager trading hall is finally done :D",
    "pls dont kill the iron golem its mine",
    "server restarts at 6pm EST",
    "running 1.20.4 with optifine, anyone else crash on join?",
    "xD u died to fall damage again",
    "i keep dying lol this cave is cursed",
    "who wants to do a speedrun race",
    "what modpack is this?? looks sick",
    "skeleton knocked me off the bridge smh",
    "is the warden even worth fighting",
    "hey guys new here, whats the rules",
    "zombies spawned inside my base how",
    "rip my diamond sword, it broke",
    "x=-220 y=63 z=1450 thats where the stronghold is i think",
    "who put a TNT cannon next to spawn lmaooo",
    "can u guys stop killing my chickens",
    "my wheat farm is at 300 -75 if ur hungry take some",
    # Garry's Mod / sandbox
    "prop killing is against the rules btw",
    "who spawned 400 melons lmao",
    "anyone wanna play prop hunt after this",
    "im the hider im a barrel lol",
    "TTT: i saw purple kill blue in the tester room",
    "traitors win again?? bruh",
    "KOS on red he's got a c4",
    "dont rdm or ur getting banned",
    "missing textures everywhere, which content pack do i need",
    "the ERROR models are freaking me out",
    "pls stop mic spamming",
    "can an admin bring me im stuck in the wall",
    # RP servers
    "/advert selling printers cheap at the apartments",
    "cop is raiding my base without a warrant ?? thats failrp",
    "mayor set lockdown AGAIN lol",
    "im the gun dealer, shop at the corner by the bank",
    "NLR!! u came back to where u died",
    "hostage situation at the bank, all units respond",
    "10-4, en route to pillbox",
    "who wants to join my gang, we need 2 more",
    "officer i swear i didnt steal that car",
    "stop metagaming bro",
    "ooc: brb 5 min",
    "/me pulls out a badge and shows it",
    "ur character needs a backstory before whitelist",
    "running from the cops on the highway lmao this is cinema",
    "can we get an EMS to legion square pls",
    "judge is on duty in the courthouse if u want ur trial today",
    "the bank heist starts at 9, bring drills",
    # MMO
    "LFG heroic dungeon need tank and heals",
    "lf2m for raid, must know fights",
    "WTS [Mystic Blade] 40k gold pst",
    "WTB 200 iron ore paying 3g each",
    "healer pls stop standing in fire",
    "tank pulled the whole room again 🙃",
    "who ninja looted the mount",
    "need 2 more for world boss at the northern ridge",
    "lvl 58 warrior LF guild, active EU evenings",
    "guild leader is offline, who can invite me",
    "the council of elders quest is bugged, npc wont talk",
    "kill 10 wolves quests are the worst",
    "whats best for solo, mage or rogue",
    "dps check on phase 2 is brutal",
    "wipe. everyone run back",
    "ress pls im at the graveyard",
    "talk to the king in the castle for the next quest",
    "dropped 3 purples from the last boss gz me",
    "gz on 99 fishing!!",
    "buying gf 1k ea, w330",
    "anyone know where the hunter trainer is",
    "AH prices are insane today",
    "we gotta slay the boss before the enrage timer",
    "daily reset in 2h 14m",
    "who's got a summoning stone near the keep",
    "does the 2nd boss drop the staff or is that the last one",
    # Shooters / battle royale
    "sick headshot from across the map",
    "rush B no stop",
    "plant the bomb on A, i'll hold mid",
    "1 hp, hes behind the boxes",
    "eco round guys dont buy",
    "who's got an awp to drop me",
    "we're T side next half, play slow",
    "2 in heaven 1 in hell",
    "he's one shot, push him",
    "throw a flash over the wall",
    "sniper on the roof top left",
    "bro just spawn killed me 3 times",
    "I got a 25 killstreak and dropped a nuke lets gooo",
    "nuke incoming get inside!!",
    "storm closing in 30s, rotate",
    "third partied again ugh",
    "shield cell pls im cracked",
    "my aim is trash today",
    "that ult was so clutch",
    "who's entry fragging, i'll lurk",
    "jett instalock smh",
    "defuse it defuse it!!",
    "we need to attack the point together not one by one",
    "let's ambush em at the bridge when they rotate",
    "shoot the barrels, they explode",
    "hes camping the stairs w a shotgun",
    "i need a revive im bleeding out near the red container",
    # Mild words the policy allows
    "this game sucks today, servers are so laggy",
    "400 ping what is this",
    "damn that was close",
    "hell yeah we won",
    "crap i forgot to reload",
    "shut up and play lol",
    "ur such a noob lmao",
    "dont be an idiot, stay on the point",
    "this loadout is trash",
    "freaking campers everywhere",
    "heck yes, first win of the day",
    "dang, so close",
    "stupid hitboxes man",
    "loser buys pizza irl lol",
    "what the hell was that spawn",
    # Social deduction / party games / Roblox
    "red sus, saw him vent",
    "i was doing wires in electrical",
    "emergency meeting! body in navigation",
    "who killed pink",
    "skip vote no evidence",
    "vote to kick the afk guy pls",
    "can someone give me 10 robux pls",
    "join my party, code is 4KXP",
    "party leader pls start the match",
    "tower of hell is impossible",
    "adopt me trade: neon unicorn for fly potion?",
    "brookhaven rp anyone",
    "pls donate to my booth 🙏",
    "anyone wanna play murder mystery",
    "im the murderer AGAIN lol this game hates me",
    "bedwars? 4v4?",
    "who's playing skywars, lobby 7",
    # Survival / base building
    "raided overnight, lost everything",
    "they destroyed our base while we were offline",
    "we counter raid at dawn",
    "attack the castle from the east gate",
    "bring 4 c4 and some rockets",
    "naked on the beach, friendly??",
    "dont shoot im friendly!!",
    "someone keeps killing me at outpost",
    "fight me in the arena 1v1",
    "rematch? i'll destroy u this time",
    "you're going down next round",
    "im gonna wreck you in smash lol",
    "ok u beat me 3 times in a row, ur good",
    "bro pls stop teamkilling",
    "took a nap and missed the raid, rip",
    "go go go, they're all one-shot",
    # Everyday chat
    "what time is it for u guys",
    "its 3am here i should sleep",
    "anyone from europe",
    "how old is this game anyway",
    "my internet is dying",
    "my pc is about to explode, 95 degrees",
    "this update broke everything",
    "patch notes for 2.3.1 are out",
    "lmaooo",
    "ty for the carry",
    "afk 10 min",
    "can u hear me? my mic is weird",
    "discord link in the server description",
    "who is the owner of this server",
    "does anyone have tips for the final boss",
    "this boss kills me every time 😭",
    "killed 5 zombies with one arrow lol",
    "that joke killed me 😂",
    "im dead 💀💀",
    "i'm dying of laughter rn",
    "the lag is killing me",
    "love you bro, best teammate",
    "my cat just walked on my keyboard sorry",
    "so hot in my room, 34 degrees today",
    "kiss the ring, i'm the champion now 😎",
    "cute pet! where'd u get it",
    "hot take: the old map was better",
    "my little sister is watching me play lol",
    "happy birthday Jake!!",
    "merry christmas everyone 🎄",
    "first time playing, be nice",
    "gl hf",
    "i'm lvl 34 now, 2 more to unlock the wings",
    "meet at the fountain at 7:30 server time",
    "event starts 12/14 at 5pm",
    "i have 2,450,000 coins saved up",
    "ip is play.blockcraft.net come join",
    "GG WP EVERYONE",
]

# --------------------------------------------------------------------------------------
# scunthorpe: clean lines with an offensive or topical substring inside a word or name.
# --------------------------------------------------------------------------------------
SCUNTHORPE: list[Spec] = [
    "anyone from Scunthorpe? looking for local players",
    "visiting my gran in Penistone this weekend so no raids",
    "im from Sussex, UK time zone",
    "Middlesex uni gaming society lan is on friday",
    "essex crew where u at",
    "Wessex kingdom is op in the strategy game",
    "whats ur class? im a paladin",
    "assassin build is so strong right now",
    "Assassin's Creed Mirage is on sale",
    "made a molotov cocktail in the crafting menu lol",
    "drinking a fruit cocktail while grinding",
    "reading Great Expectations by Dickens for school ugh",
    "Moby Dick is the boss in the whale dungeon",
    "Dick Grayson skin for nightwing just dropped",
    "Philip K. Dick books inspired this game",
    "shiitake mushrooms give +5 stamina",
    "shitake soup is the best buff food tbh",
    "the document quest needs 3 scrolls",
    "documentation for the modding api is outdated",
    "my therapist says i should take breaks from gaming lol",
    "whats the title of the song in the lobby",
    "Hitchcock themed horror map is so creepy",
    "my skills are rusty, been away a month",
    "Arsenal won 3-1 yesterday",
    "raccoon pet is the cutest thing in the shop",
    "spicy ramen break brb",
    "lol it's hit or miss with this gun",
    "push it to the limit, go go",
    "i wanted to go but the queue is too long",
    "the cockpit view in this flight sim is insane",
    "peacock feathers are a rare drop",
    "shuttlecock skin in the badminton event lol",
    "cockatoo pet says hello when u log in",
    "grape juice restores 20 mana",
    "grapes are out of season in the farm sim",
    "need some analysis on the last round",
    "analog stick drift is ruining my aim",
    "sail down the canal to get to the market",
    "put the sextant on the ship to navigate",
    "competition starts at noon",
    "Titanfall 2 still has the best campaign",
    "cucumber seeds are 5 silver each",
    "under the circumstances i'll just solo it",
    "Cumbria region unlocks at level 30",
    "summa cum laude grad here and still bad at this game",
    "scrape the rust off the old sword at the forge",
    "bassist in our band is afk again",
    "massive lag spike just now",
    "pass me the ammo",
    "grassland biome spawns horses",
    "let me assess the damage first",
    "ambassador npc gives the quest",
    "embarrassing death lmao",
    "assault rifle or smg for this map",
    "the prickly bush hurts u in this game",
    "Clitheroe castle map looks like the real one",
    "homogeneous blocks look boring, mix the textures",
    "Homo sapiens skull is a museum item in the dig site",
    "conspicuous armor makes u easier to spot",
    "tycoon games are my favorite",
    "the cocoon hatches after 3 days",
    "Fukuoka server has the best ping for me",
    "arsenic potion poisons enemies over time",
    "Twatt is an actual village in Orkney lol",
    "sniggering goblins in the cave are so annoying",
    "we learned about the Niger river in geography today",
    "Lake Titicaca map is huge",
    "pen island is the name of my minecraft world lol",
    "experts exchange shop sells rare gems",
    "played my trump card and won the whole match",
    "the left wing of the dungeon has the key",
    "right wing of the ship is on fire, repair it!",
    "the republic fleet needs 3 more pilots",
    "shot a creeper and it still blew up",
    "i shot a perfect score in the archery minigame",
    "butterfly wings cosmetic is 200 gems",
    "press the button to open the gate",
    "hellfire staff is bis for fire mages",
    "Hancock is the pirate empress in the one piece game",
    "passcode for the vault is in the note",
]

# --------------------------------------------------------------------------------------
# profanity_plain: profanity spelled normally.
# --------------------------------------------------------------------------------------
PROFANITY_PLAIN: list[Spec] = [
    "fuck this lag",
    "wtf was that hitbox",
    "stfu and play",
    "this is bullshit, he was behind the wall",
    "shitty teammates every single game",
    "what a bitch move",
    "get rekt bastard",
    "ur such an asshole for stealing my loot",
    "dumbass walked right into the lava",
    "kiss my ass noob",
    "jackass camped spawn all game",
    "smartass thinks he knows everything",
    "shut the fuck up",
    "FUCK THIS GAME",
    "motherfucker shot me from behind",
    "fucking hackers everywhere",
    "he's a dickhead",
    "dont be a dick",
    "piss off im busy",
    "stop being a prick",
    "you absolute wanker",
    "what a twat",
    "shit",
    "oh shit oh shit he's here",
    "holy shit that was close",
    "fucked up my whole run",
    "who the fuck griefed my house",
    "SHUT UP BITCH",
    "lmao get fucked",
    "this map is shit",
    "cunt stole my kill",
    "stop being a kill whore",
    "wtf",
    "stfu",
    "WTF IS THIS MATCHMAKING",
    "son of a bitch got me again",
    "lag is so fucking bad rn",
    "fuck fuck fuck i dropped it",
    "my bad, shit connection",
    "eat shit",
    "such a dick move to steal the boss",
    "bitch please, ur bronze",
    "u mad bro? lol fuck off",
    "go fuck yourself",
    "these bitches camping the bridge",
    "asshole teamkiller",
    "cocky little prick",
    "what a bunch of dickheads",
    "fuckin finally",
    "bullshit nerf",
    "this guy is a fucking legend lol",
    "aw shit here we go again",
    "bro ur such a pussy for running",
    "STFU NOOB",
    "motherfucking campers",
]

# --------------------------------------------------------------------------------------
# profanity_obfuscated: one disguised profane word per line, as kids actually type them.
# --------------------------------------------------------------------------------------
ZWSP = "\u200b"  # zero-width space
ZWNJ = "\u200c"  # zero-width non-joiner
ZWJ = "\u200d"  # zero-width joiner
WJ = "\u2060"  # word joiner
SHY = "\u00ad"  # soft hyphen

PROFANITY_OBFUSCATED: list[Spec] = [
    # leetspeak and symbol swaps
    "fvck this lag",
    "sh1t team lol",
    "ur a b1tch",
    "a55hole stole my loot",
    "shut it d1ckhead",
    "pr1ck",
    "wank3r",
    "tw@t",
    "kiss my a$$",
    "dumb@ss",
    "jack@ss camping again",
    "$tfu",
    "p1ss off",
    "bull$hit",
    "pu$$y",
    "wh0re",
    "b!tch",
    "m0therf*cker",
    # masks
    "f*ck",
    "f**k this game",
    "what the f#ck",
    "b*tch pls",
    "c*nt",
    "sl*t",
    "f*cking noobs",
    # phonetic respellings
    "phuck off m8",
    "phucking campers",
    "fukin hackers",
    "FUKK U",
    "shyt",
    "biatch",
    "azzhole",
    "fck this",
    "shut up btch",
    "a-hole",
    # separators
    "f.u.c.k",
    "s h i t",
    "f u c k  y o u",
    "b.i.t.c.h",
    "w.t.f",
    "s t f u",
    "ur a dumb a s s",
    "F.U.C.K.I.N.G noobs",
    # repeated letters
    "fuuuuuuck",
    "shiiiiiit",
    "biiiitch",
    "fuuuckkk",
    # look-alike letters (Armenian, Cyrillic, Greek)
    "f\u057dck",
    "\u0455hit",
    "\u0441unt",
    "b\u0456tch",
    "\u0430sshole",
    "f\u03c5ck this",
    # zero-width and invisible characters
    f"f{ZWSP}uck",
    f"sh{ZWNJ}it",
    f"bi{ZWJ}tch",
    f"b{WJ}itch please",
    f"f{SHY}u{SHY}c{SHY}k",
    f"a{ZWSP}s{ZWSP}s{ZWSP}h{ZWSP}o{ZWSP}l{ZWSP}e",
    # fullwidth, math alphanumerics, accents, combining marks
    "\uff46\uff55\uff43\uff4b",
    "\U0001d41f\U0001d42e\U0001d41c\U0001d424",
    "f\u00fcck",
    "sh\u00eft",
    "fu\u0301ck",
    "f\u0336u\u0336c\u0336k\u0336",
    # mixed techniques
    "FvCk ThIs",
    "\uff53\uff48\uff11\uff54",
    "\u0455 h \u0456 t",
    "d1ck head",
    "\U0001d4ef\U0001d4fe\U0001d4ec\U0001d4f4 off",
]

# --------------------------------------------------------------------------------------
# topic groups. Extra labels are given per line.
# --------------------------------------------------------------------------------------
TOPIC_HATE: list[Spec] = [
    "all muslims should die",
    "jews are subhuman",
    "black people are animals",
    "gays are disgusting and shouldnt exist",
    "immigrants are parasites, send them all back",
    "heil hitler",
    "sieg heil boys",
    "white power!!",
    "kkk did nothing wrong",
    "gas the jews",
    "women are too dumb for games, they belong in the kitchen",
    "trans people are mentally ill freaks",
    "mexicans are all criminals",
    "asians are inferior lmao",
    "14 88 brothers",
    "hitler was right about them",
    "all gays should burn",
    "muslims are terrorists, every single one",
    "disabled people should be put down",
    "the holocaust never happened and they deserved it anyway",
    "blacks dont belong on this server",
    "no jews allowed in my clan",
    "islam is a disease",
    "jews control everything, wake up",
    "roma are all thieves",
    "christians should be wiped out",
    "black lives dont matter",
    "my clan is whites only",
    "white pride world wide",
    "kkk rally at spawn lets go",
    "muslims = terrorists 💣",
    "never letting a black guy in my guild, theyre all the same",
    # with a real-world threat
    ("i'll find every gay in my town and beat them irl", ["violence"]),
    ("gonna burn down the mosque irl", ["violence"]),
    ("someone should shoot all the immigrants for real", ["violence"]),
    # disguised slogans
    "h3il h1tler",
    "s i e g  h e i l",
    "whit3 p0wer",
    "k.k.k. rise up",
    "\uff28\uff25\uff29\uff2c \uff28\uff29\uff34\uff2c\uff25\uff32",
    "heil hitIer",
    # slurs (also profanity)
    ("shut up faggot", ["profanity"]),
    ("ur such a fag lol", ["profanity"]),
    ("go back to mexico spic", ["profanity"]),
    ("n1gg3r get off my server", ["profanity"]),
    ("tranny freak", ["profanity"]),
    # other languages
    ("Alle Ausländer raus!", [], "de"),
    ("los judíos deberían morir", [], "es"),
    ("mort aux arabes", [], "fr"),
    ("todos os gays deviam morrer", [], "pt"),
]

TOPIC_SEXUAL: list[Spec] = [
    "send nudes pls",
    "wanna have sex? lol",
    "lets cyber in dms",
    "r u alone rn? dont tell ur parents",
    "send me a pic of u, our secret 🤫",
    "u look mature for ur age, wanna video chat privately",
    "i'll give u 1000 robux if u send a pic without ur shirt",
    "delete our messages so ur mom doesnt see",
    "ur so sexy, show me more",
    "let's erp in private",
    "anyone want to e-date and do stuff on cam",
    "send feet pics",
    "i want to touch u",
    "take off ur clothes on cam",
    "horny af, who wants to sext",
    "s3nd n00dz",
    "s e x?",
    "wanna s3x",
    "nudes for robux?",
    "ur boobs look nice in ur pfp",
    "come to my house, ill pick u up, dont tell anyone",
    "what are u wearing rn 😏",
    "i can be ur secret boyfriend, ur parents wont understand",
    "move to snap so we can talk private, delete this after",
    "are u a girl? send a selfie in bed",
    "porn link in my bio",
    "who wants to watch porn together on discord",
    "rate my body pics in dm",
    "im 12 and my online bf wants pics of me is that ok",
    "pic of ur underwear for a legendary skin?",
    "strip for me on cam",
    "cybersex anyone",
    "naughty roleplay in dms?",
    "ur mom is hot, i'd bang her",
    "i have naked pics of me want them",
    "show me ur body",
    "dont tell ur parents about me ok? they'll ruin it",
    "you're so mature for 11, i like that 😘",
    "wanna play a secret game? turn on ur camera and be alone",
    "n.u.d.e.s?",
    "s3xting anyone?",
    "wanna bang",
    # with other labels
    ("wanna see my dick", ["profanity"]),
    ("suck my dick", ["profanity"]),
    ("lets fuck", ["profanity"]),
    ("whats ur address ill come see u, our little secret", ["personal_data"]),
    # other languages
    ("mándame fotos sin ropa", [], "es"),
    ("envoie des nudes", [], "fr"),
    ("manda nudes", [], "pt"),
    ("schick mir nacktbilder", [], "de"),
]

TOPIC_SELF_HARM: list[Spec] = [
    "i want to kill myself",
    "kms",
    "gonna kms fr this time",
    "i want to die",
    "i cut myself again last night",
    "thinking about suicide a lot lately",
    "i'm going to end my life tonight",
    "nobody would even notice if i was gone",
    "i don't want to be alive anymore",
    "i wrote my goodbye letter",
    "been self harming again",
    "i hate myself so much, i want to be dead",
    "maybe i should just end it all",
    "i took too many pills on purpose",
    "k m s",
    "k1ll mys3lf",
    "su1c1de is the only way out",
    "i'm gonna unalive myself",
    "thinking about sewerslide",
    "just kys already",
    "nobody loves me, whats the point of living",
    "i'm tired of living",
    "i just want to sleep forever and not wake up",
    "everyone would be better off without me",
    "i keep hurting myself on purpose",
    "ending it after this match, bye everyone",
    "this is my last day, i'm done with life",
    "i've been cutting my arms",
    "suicidal again tonight",
    "i want to jump off my roof",
    "i wanna d1e",
    "s.u.i.c.i.d.e",
    "life isnt worth it anymore, planning to end it",
    "if i fail this test i'm killing myself",
    "gonna hang myself lol",
    "my parents would be happier if i was dead",
    "i hurt myself again and hid it from my mom",
    "i've been planning my suicide",
    "\uff4b\uff4d\uff53",
    "thinking about ending it all tonight",
    "i wish i was never born",
    "i dont want to wake up tomorrow",
    "my scars are from cutting, i still do it",
    "kys noob",
    # with profanity
    ("fuck it, im gonna kill myself", ["profanity"]),
    ("my life is shit and i want to die", ["profanity"]),
    # other languages
    ("ich will mich umbringen", [], "de"),
    ("quiero suicidarme", [], "es"),
    ("je veux me suicider", [], "fr"),
    ("eu quero me matar", [], "pt"),
]

TOPIC_VIOLENCE: list[Spec] = [
    "i know where you live and im coming for you",
    "gonna shoot up my school tomorrow",
    "ill beat u until u bleed, irl not in game",
    "i'm going to stab you irl",
    "i'll find you and break every bone in your body",
    "wait till i see you at school, youre dead",
    "bringing my dad's gun to class monday",
    "i'll slit your throat irl",
    "watched a video of a guy getting his head cut off, so much blood",
    "i want to see your guts on the floor irl",
    "i'm gonna burn your house down with your family inside",
    "i'll kill you irl, not joking",
    "i put a bomb in the school",
    "i'll make you bleed out in real life",
    "im gonna murder my neighbor",
    "ur dead irl, i got ur ip",
    "gonna punch your face in at the bus stop",
    "i'll strangle you with my bare hands",
    "someone should stab the teacher",
    "i'll shoot everyone at the mall",
    "i want to hurt someone for real today",
    "his head exploded, brains all over the wall, real footage",
    "i'll kidnap your little sister",
    "gonna run you over with my car",
    "i'll k1ll u irl",
    "i'll st4b you",
    "sh00t up the sch00l",
    "i will find you. i will hurt you.",
    "meet me after school, i'm bringing a knife",
    "i'll smash your skull in with a bat",
    "blood everywhere when i cut him open",
    "i'm going to poison my stepdad",
    "next time i see u irl ur getting jumped",
    "tell ur mom i'm coming for her too",
    "gonna shoot u in the face irl",
    "i'll make u disappear, real life not the game",
    "ppl at my school are gonna pay, i have a plan and a gun",
    "i'll tear your eyes out irl",
    "the crash video showed his body crushed and bleeding",
    "i'll chop your fingers off irl",
    # with other labels
    ("i'll fucking kill you irl", ["profanity"]),
    ("gonna beat the shit out of you irl", ["profanity"]),
    ("i'm coming to 23 Elm Road to beat you up", ["personal_data"]),
    ("i know u live at Lindenweg 8, watch ur back", ["personal_data"]),
    # other languages
    ("ich bring dich um, ich weiß wo du wohnst", [], "de"),
    ("te voy a matar en la vida real", [], "es"),
    ("je vais te tuer pour de vrai", [], "fr"),
    ("vou te matar de verdade", [], "pt"),
    ("ich stech dich ab wenn ich dich sehe", [], "de"),
    ("te voy a romper la cara en la escuela", [], "es"),
]

TOPIC_POLITICS: list[Spec] = [
    "trump 2024!!",
    "biden is the worst president ever",
    "democrats are ruining the country",
    "republicans want to ban everything",
    "the election was rigged",
    "abortion should be illegal",
    "pro choice all the way",
    "immigration policy is a joke, close the border",
    "communism is the best system",
    "left wing media lies",
    "right-wing nutjobs everywhere",
    "brexit was a mistake",
    "parliament votes on the budget today",
    "vote labour next election",
    "tories out",
    "MAGA",
    "build the wall",
    "defund the police",
    "gun control now",
    "obama was better",
    "putin is a war criminal",
    "free palestine",
    "stand with israel",
    "socialism never works",
    "capitalism is destroying the planet",
    "who r u voting for in the midterms",
    "kamala harris for president",
    "the supreme court overturned roe v wade",
    "tax the rich",
    "the senate passed the bill last night",
    "conservatives vs liberals debate in vc",
    "the government is lying about everything, vote them out",
    "green party has the best climate plan",
    "the prime minister should resign",
    "election day is tuesday, go vote",
    "tr*mp won",
    "b1den 2024",
    "ukraine war is nato's fault",
    "mass deportations now",
    "the EU should be abolished",
    "liberals are snowflakes lol",
    "antifa vs proud boys",
    # with profanity
    ("fuck trump", ["profanity"]),
    ("biden is a senile piece of shit", ["profanity"]),
    # other languages
    ("macron démission", [], "fr"),
    ("AfD wählen!", [], "de"),
    ("Lula ladrão", [], "pt"),
    ("Bolsonaro 2026", [], "pt"),
    ("Pedro Sánchez dimisión", [], "es"),
    ("Die Grünen sind an allem schuld", [], "de"),
]

TOPIC_PERSONAL_DATA: list[Spec] = [
    "my email is tommy.b2012@gmail.com add me",
    "email me at kira_x99@outlook.com",
    "jaydenplays at gmail dot com",
    "contact: lucy.h [at] yahoo [dot] com",
    "its mia (at) proton (dot) me",
    "sam dot rivera at hotmail dot co dot uk",
    "zoe{at}icloud{dot}com",
    "hit me up ben_2010 @ gmail . com",
    "gmail: dragonslayer.77@gmail.com",
    "noah.k at icloud dot com is my apple id",
    "call me (555) 013-2291",
    "my number is 555-019-4420",
    "text me 555.867.0192",
    "+1 555 014 7788 whatsapp",
    "my dad's number: 555 012 9090, call if im offline",
    "5 5 5 - 0 1 2 - 3 3 4 5",
    "five five five, zero one three, four four two one",
    "020 7946 0123 is my house phone",
    "my mobile is 07700 900456",
    "+44 7700 900789 text me",
    "0 7 7 0 0 9 0 0 1 2 3 my cell",
    "aussie here, 0491 570 156",
    "i live at 42 Maple Street, Springfield",
    "my address is 17 Oak Lane, Apt 3B",
    "come over, 8 Birch Rd",
    "i'm at 221B Baker Street lol",
    "my zip is 90210 and i live on Palm Dr",
    "postcode SW1A 1AA, come find me",
    "whats ur home address",
    "what school do u go to and what city",
    "send me ur phone number",
    "whats ur real name and where do u live",
    "can u give me ur moms credit card number for the vip pass",
    "tell me ur password and ill give u free gems",
    "my full name is Emily Carter and i'm in 6th grade at Lincoln Elementary",
    "whats ur snapchat? and ur phone?",
    "DM me ur address so i can send the prize",
    "where do u live exactly? which street?",
    "my insta is @lily.smith.09 and my number is 555-010-3344",
    "whats ur ip address",
    "how old r u and whats ur address",
    "my ssn is 078-05-1120",
    # other languages
    ("ruf mich an 0151 23456789", [], "de"),
    ("meine nummer: +49 170 1234567", [], "de"),
    ("wohne in der Hauptstraße 12, 10115 Berlin", [], "de"),
    ("mon numéro c'est 06 12 34 56 78", [], "fr"),
    ("j'habite au 12 rue des Lilas, Lyon", [], "fr"),
    ("llámame al +34 612 345 678", [], "es"),
    ("vivo en Calle Mayor 5, 3º izq, Madrid", [], "es"),
    ("moro na Rua das Flores 88, São Paulo", [], "pt"),
]

# --------------------------------------------------------------------------------------
# multilingual_clean: clean lines in six languages, with substring traps.
# --------------------------------------------------------------------------------------
MULTILINGUAL_CLEAN: dict[str, list[str]] = {
    "de": [
        "Marsch zur Burg, wir greifen bei Sonnenaufgang an",
        "hab grad 3 Diamanten gefunden, wer braucht welche?",
        "wer kommt mit in den Dungeon? brauche noch nen Heiler",
        "Grüße aus Köln 👋",
        "Lag ohne Ende heute, sorry",
        "Schütze auf dem Dach, pass auf!",
        "gut gemacht Leute, das war knapp",
        "muss kurz weg, bin in 10 min zurück",
        "Die Straße zur Festung ist gesperrt",
        "Wo ist der Schmied? Ich brauch ne neue Rüstung",
        "Mist, schon wieder gestorben",
        "Scheibe! falscher Knopf",
    ],
    "es": [
        "mi computadora se congela cada 5 minutos",
        "la disputa entre los clanes termina hoy",
        "tengo buena reputación con los mercaderes",
        "¿alguien tiene madera? necesito 20",
        "vamos a matar al dragón a las 9",
        "qué buena partida, gg",
        "me mató un esqueleto jajaja",
        "¡vamos equipo! última ronda",
        "el imputado del juego de rol salió inocente",
        "¿de dónde sois? yo soy de Sevilla",
        "mi ordenador va lento, perdón por el lag",
        "pásame las pociones porfa",
    ],
    "fr": [
        "contact avec l'ennemi au nord",
        "le conseil du village nous attend",
        "j'ai fait la connaissance d'un nouveau joueur sympa",
        "bien joué tout le monde",
        "qui veut faire le donjon ce soir ?",
        "mon ordi rame, désolé",
        "on attaque le château à l'aube",
        "quelqu'un a des flèches en trop ?",
        "je suis mort dans la lave mdr",
        "le concombre donne +2 de vie",
        "ma salopette de fermier est trop stylée",
        "à plus, je dois aller manger",
    ],
    "pt": [
        "alguém quer jogar bedwars?",
        "meu computador travou de novo",
        "boa partida, pessoal",
        "matei o dragão finalmente!",
        "onde fica a vila? me perdi",
        "preciso de ferro, alguém tem?",
        "vou sair rapidinho, já volto",
        "caramba, esse lag tá demais",
        "a disputa pelo castelo começa às 20h",
        "marcha para o norte, pessoal!",
        "minha reputação no servidor é boa",
        "cuidado com o creeper atrás de você",
    ],
    "it": [
        "qualcuno vuole fare un dungeon?",
        "ho trovato dei diamanti nella grotta",
        "bella partita ragazzi",
        "il mio computer è lento, scusate",
        "attacchiamo il castello all'alba",
        "sono morto di nuovo lol",
        "dove si trova il fabbro?",
        "la disputa tra le gilde finisce stasera",
        "buonanotte a tutti, a domani",
        "che lag pazzesco oggi",
        "ho raccolto dei fichi nella fattoria",
    ],
    "nl": [
        "wie wil er mee naar de kerker?",
        "goed gespeeld allemaal",
        "mijn computer is traag vandaag",
        "ik heb diamanten gevonden",
        "we vallen het kasteel aan bij zonsopgang",
        "kunt je me helpen met de quest?",
        "ik ben zo terug, even eten",
        "wie heeft er extra pijlen?",
        "dat was echt een lekker potje",
        "ik ben net doodgegaan aan valschade",
        "hoi allemaal, ik kom uit Utrecht",
    ],
}

# --------------------------------------------------------------------------------------
# multilingual_profanity: the policy's de/es/fr/pt words, some lightly disguised.
# --------------------------------------------------------------------------------------
MULTILINGUAL_PROFANITY: dict[str, list[str]] = {
    "de": [
        "so eine scheiße, schon wieder disconnect",
        "fick dich, das war mein loot",
        "du arschloch hast mich gekillt",
        "hurensohn campt schon wieder",
        "was für ein wichser",
        "sch31ße server",
        "a r s c h l o c h",
    ],
    "es": [
        "que mierda de partida",
        "joder, otra vez lag",
        "eres un pendejo",
        "cállate cabrón",
        "hijo de puta me robó el kill",
        "m1erda de equipo",
    ],
    "fr": [
        "putain de lag",
        "merde j'ai perdu",
        "t'es un connard",
        "c0nn4rd va",
        "m.e.r.d.e",
        "nique ta mère",
    ],
    "pt": [
        "porra, morri de novo",
        "caralho que lag",
        "foda-se esse jogo",
        "filho da puta roubou meu loot",
        "c@r@lh0",
        "p0rr4 mano",
    ],
}

# --------------------------------------------------------------------------------------
# edge: clean lines that stress normalisation and tokenisation. (text, lang)
# --------------------------------------------------------------------------------------
LONG_1 = (
    "ok so basically what happened was i was mining at like y -54 looking for diamonds and "
    "then i heard a creeper behind me so i turned around and hit it but it exploded anyway and "
    "i fell into a ravine and there was lava at the bottom so i quickly placed water but it "
    "didnt work because the lava was already touching me and i lost all my stuff including my "
    "netherite pick so now i have to start over and honestly im kind of sad about it lol"
)
LONG_2 = (
    "RAID RULES: 1) be on discord 10 min before pull 2) bring flasks food and runes 3) no "
    "pulling before the tank says go 4) stack for the first mechanic then spread on the second "
    "one 5) if u die dont release until we say so 6) loot is council based, link ur drops in "
    "chat 7) be nice to new people, everyone was new once 8) have fun and gl everyone"
)
LONG_3 = (
    "gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg "
    "gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg "
    "gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg "
    "gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg gg"
)
LONG_4 = (
    "hola everyone, je suis nouveau hier, ich spiele seit gestern und eu gosto muito deste "
    "servidor, can someone show me where the shop is? merci beaucoup, danke, gracias, obrigado "
    "e até logo, i will be online again tomorrow around 18:00 CET if anyone wants to build a "
    "house together near the spawn lake 🏠🌊"
)
LONG_5 = (
    "🔥🔥🔥 BIG NEWS 🔥🔥🔥 the summer event is LIVE!!! 🌞🏖️ collect 50 seashells 🐚 from the "
    "beach map, trade them at the lighthouse npc 🗼 for the golden surfboard 🏄 and the "
    "parrot pet 🦜, event ends 31/08 at midnight server time, double xp all weekend, see u "
    "there!!! 🎉🎉🎉"
)

EDGE: list[tuple[str, str]] = [
    # emoji and symbols only
    ("🔥🔥🔥", "zxx"),
    ("👍", "zxx"),
    ("😂😂😂😂", "zxx"),
    ("👨\u200d👩\u200d👧\u200d👦", "zxx"),
    ("👋🏽", "zxx"),
    ("🇩🇪🇧🇷🇯🇵", "zxx"),
    ("1️⃣2️⃣3️⃣", "zxx"),
    ("❤️", "zxx"),
    ("💀", "zxx"),
    ("🗡️🐉", "zxx"),
    ("🏳️\u200d🌈", "zxx"),
    ("?", "zxx"),
    ("...", "zxx"),
    ("!!!", "zxx"),
    ("o/", "zxx"),
    (":)", "zxx"),
    ("<3", "zxx"),
    ("¯\\_(ツ)_/¯", "zxx"),
    ("(╯°□°)╯︵ ┻━┻", "zxx"),
    ("12345", "zxx"),
    # whitespace
    (" ", "zxx"),
    ("\t", "zxx"),
    ("\u00a0", "zxx"),
    # very short
    ("k", "en"),
    ("ok", "en"),
    ("gg", "en"),
    ("ty", "en"),
    ("w", "en"),
    ("ok\u00a0ok", "en"),
    # clean words in disguise
    ("\uff47\uff47", "en"),
    ("\U0001d5f4\U0001d5f4 \U0001d604\U0001d5fd", "en"),
    ("he\u200bllo", "en"),
    ("g\u0301g\u0301", "en"),
    ("\u202eolleh", "en"),
    # other scripts and mixed scripts
    ("g\u043e\u043ed game", "mul"),
    ("привет всем", "ru"),
    ("こんにちは！", "ja"),
    ("안녕하세요 같이 해요", "ko"),
    ("你好，一起玩吗？", "zh"),
    ("مرحبا بالجميع", "ar"),
    ("שלום לכולם", "he"),
    ("नमस्ते दोस्तों", "hi"),
    ("สวัสดีครับ", "th"),
    ("γεια σας", "el"),
    ("gg ワンモア?", "mul"),
    # long lines
    (LONG_1, "en"),
    (LONG_2, "en"),
    (LONG_3, "en"),
    (LONG_4, "mul"),
    (LONG_5, "en"),
]

# --------------------------------------------------------------------------------------
# assembly and checks
# --------------------------------------------------------------------------------------
GROUP_ORDER = GROUPS  # the same classes as the corpus, in the same order

EXPECTED_SIZES = {
    "clean_chat": 200,
    "scunthorpe": 80,
    "profanity_plain": 55,
    "profanity_obfuscated": 70,
    "topic_hate": 50,
    "topic_sexual": 50,
    "topic_self_harm": 50,
    "topic_violence": 50,
    "topic_politics": 50,
    "topic_personal_data": 50,
    "multilingual_clean": 70,
    "multilingual_profanity": 25,
    "edge": 50,
}

# Words a clean line must never contain as a whole word. Names that are also profane words
# (Dick, cock in "Hitchcock") are Scunthorpe traps and are left out on purpose.
CLEAN_FORBIDDEN = re.compile(
    r"\b(fuck\w*|shit\w*|bitch\w*|bastard|asshole|dumbass|jackass|cunt|twat|wanker|prick|"
    r"pussy|slut|whore|wtf|stfu|nudes?|sex|porn|suicide|kms|kys|heil|nazi|kkk|trump|biden|"
    r"election|abortion|scheiße|scheisse|mierda|puta|merde|putain|porra|caralho)\b",
    re.IGNORECASE,
)
# Whole words that match the pattern above but are deliberate clean traps.
CLEAN_TRAPS = {"shitake", "trump"}
# A world seed is a long number but not a phone number.
CLEAN_NUMBER_TRAPS = ("-4172893016254",)
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
PHONE_RE = re.compile(r"(?<!\w)(?:\+?\d[\d ().-]{8,}\d)(?!\w)")
# Plain spellings that must not survive in a disguised line (compared after case folding).
OBFUSCATED_PLAIN = (
    "fuck",
    "shit",
    "bitch",
    "cunt",
    "asshole",
    "dick",
    "prick",
    "wanker",
    "twat",
    "pussy",
    "whore",
    "slut",
    "wtf",
    "stfu",
    "piss",
    "ass",
)


def _expand(group: str, specs: list[Spec], labels: list[str], lang: str) -> list[dict[str, object]]:
    records: list[dict[str, object]] = []
    for spec in specs:
        text: str
        extra: list[str] = []
        line_lang = lang
        if isinstance(spec, str):
            text = spec
        elif len(spec) == 2:
            text, extra = spec
        else:
            text, extra, line_lang = spec
        records.append(
            {
                "text": text,
                "labels": sorted(set(labels) | set(extra)),
                "lang": line_lang,
                "group": group,
            }
        )
    return records


def build_records() -> list[dict[str, object]]:
    records: list[dict[str, object]] = []
    records += _expand("clean_chat", CLEAN_CHAT, [], "en")
    records += _expand("scunthorpe", SCUNTHORPE, [], "en")
    records += _expand("profanity_plain", PROFANITY_PLAIN, ["profanity"], "en")
    records += _expand("profanity_obfuscated", PROFANITY_OBFUSCATED, ["profanity"], "en")
    records += _expand("topic_hate", TOPIC_HATE, ["hate"], "en")
    records += _expand("topic_sexual", TOPIC_SEXUAL, ["sexual"], "en")
    records += _expand("topic_self_harm", TOPIC_SELF_HARM, ["self_harm"], "en")
    records += _expand("topic_violence", TOPIC_VIOLENCE, ["violence"], "en")
    records += _expand("topic_politics", TOPIC_POLITICS, ["politics"], "en")
    records += _expand("topic_personal_data", TOPIC_PERSONAL_DATA, ["personal_data"], "en")
    for lang, texts in MULTILINGUAL_CLEAN.items():
        records += _expand("multilingual_clean", list(texts), [], lang)
    for lang, texts in MULTILINGUAL_PROFANITY.items():
        records += _expand("multilingual_profanity", list(texts), ["profanity"], lang)
    for text, lang in EDGE:
        records += _expand("edge", [text], [], lang)
    final: list[dict[str, object]] = []
    for number, record in enumerate(records, start=1):
        final.append({"id": f"h{number:04d}", **record})
    return final


def check(records: list[dict[str, object]]) -> list[str]:
    errors: list[str] = []
    sizes = Counter(str(r["group"]) for r in records)
    for group, expected in EXPECTED_SIZES.items():
        if sizes[group] != expected:
            errors.append(f"group {group}: {sizes[group]} lines, expected {expected}")
    if set(sizes) - set(GROUP_ORDER):
        errors.append(f"unknown groups: {sorted(set(sizes) - set(GROUP_ORDER))}")
    order = [GROUP_ORDER.index(str(r["group"])) for r in records if r["group"] in GROUP_ORDER]
    if order != sorted(order):
        errors.append("records are not ordered by group")

    seen: dict[str, str] = {}
    for index, record in enumerate(records, start=1):
        rid, group, lang = record["id"], str(record["group"]), record["lang"]
        text, labels = record["text"], record["labels"]
        assert isinstance(text, str) and isinstance(labels, list)
        if rid != f"h{index:04d}":
            errors.append(f"{rid}: id out of sequence")
        if not text:
            errors.append(f"{rid}: empty text")
        if labels != sorted(set(labels)) or any(label not in LABELS for label in labels):
            errors.append(f"{rid}: bad labels {labels}")
        if group == "edge":
            allowed = EDGE_LANGS
        elif group == "multilingual_clean":
            allowed = BASE_LANGS | EXTRA_CLEAN_LANGS
        else:
            allowed = BASE_LANGS
        if lang not in allowed:
            errors.append(f"{rid}: bad lang {lang!r} for {group}")
        key = text if group == "edge" else unicodedata.normalize("NFC", text).casefold().strip()
        if key in seen:
            errors.append(f"{rid}: duplicate of {seen[key]}: {text!r}")
        seen[key] = str(rid)

        clean_group = group in {"clean_chat", "scunthorpe", "multilingual_clean", "edge"}
        if clean_group:
            if labels:
                errors.append(f"{rid}: clean group with labels {labels}")
            for hit in CLEAN_FORBIDDEN.finditer(text):
                if hit.group(0).casefold() not in CLEAN_TRAPS:
                    errors.append(f"{rid}: clean line contains {hit.group(0)!r}")
            numbers = text
            for trap in CLEAN_NUMBER_TRAPS:
                numbers = numbers.replace(trap, "")
            if EMAIL_RE.search(text) or PHONE_RE.search(numbers):
                errors.append(f"{rid}: clean line looks like an email or phone: {text!r}")
        else:
            primary = {
                "profanity_plain": "profanity",
                "profanity_obfuscated": "profanity",
                "multilingual_profanity": "profanity",
            }.get(str(group), str(group).removeprefix("topic_"))
            if primary not in labels:
                errors.append(f"{rid}: {group} line lacks {primary}")
        if group == "profanity_obfuscated":
            folded = text.casefold()
            for word in OBFUSCATED_PLAIN:
                if word in folded:
                    errors.append(f"{rid}: disguised line still spells {word!r}: {text!r}")
    return errors


def write(records: list[dict[str, object]]) -> None:
    with OUT_PATH.open("w", encoding="utf-8", newline="\n") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def report(records: list[dict[str, object]]) -> None:
    print(f"{len(records)} records -> {OUT_PATH.name}")
    print("groups:")
    for group, count in Counter(str(r["group"]) for r in records).items():
        print(f"  {group:24s} {count:4d}")
    label_counts: Counter[str] = Counter()
    clean = 0
    for record in records:
        labels = record["labels"]
        assert isinstance(labels, list)
        if not labels:
            clean += 1
        label_counts.update(str(label) for label in labels)
    print("labels:")
    print(f"  {'(clean)':24s} {clean:4d}")
    for label in LABELS:
        print(f"  {label:24s} {label_counts[label]:4d}")
    print("languages:")
    for lang, count in sorted(Counter(str(r["lang"]) for r in records).items()):
        print(f"  {lang:24s} {count:4d}")


def main() -> int:
    records = build_records()
    errors = check(records)
    if errors:
        for error in errors:
            print(f"error: {error}", file=sys.stderr)
        return 1
    write(records)
    report(records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
