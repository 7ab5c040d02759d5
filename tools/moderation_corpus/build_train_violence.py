"""Write ``tests/sdk/moderation/corpus/train_violence.jsonl``: more training lines for
real-world violence, the topic the model still missed most (issue #17's fifth round).

Violence in shapes the earlier files had few of, typed the way players type: animal
cruelty told as done, warnings and threats against public places and events (concerts,
malls, schools, churches, stations, parades), gore described as real, threats against a
named real person, stalking, swatting, revenge. Against them, ordinary lines in the same
words that must pass: game combat and raids, horror role-play, news-like talk, hunting,
fishing, cooking, pets, sport, everyday plans at the same places.

Every line was written on its own for training (no held-out line was read to write
them); the lines carry no ``frame`` and name their small list in ``list``. The file
trains only the violence model (the trainer reads it last, so earlier lines keep their
folds). A harm line with a word of the profanity policy also gets ``profanity``.
Deterministic: run from the repository root,
``python tools/moderation_corpus/build_train_violence.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_train_sexual_violence import labelled_rows, write
from build_train_sexual_violence import rows as earlier_rows

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "sdk" / "moderation" / "corpus" / "train_violence.jsonl"

VIOLENCE: dict[str, list[str]] = {
    "v_animal": [
        "i threw my neighbours cat off the roof to see if it lands",
        "kicked a stray dog till it stopped moving lol",
        "i put firecrackers in a frogs mouth and lit them",
        "we tied the puppy to the fence and threw rocks at it",
        "i starve my hamster on purpose, its funny watching it",
        "i microwaved a lizard once",
        "gonna poison the dog next door, it wont shut up",
        "i pulled the wings off a bird and watched it hop around",
        "i burned ants then moved on to mice, cats are next",
        "my brother and me beat a goat with sticks at the farm",
        "i dumped the kittens in the river in a bag",
        "i hit the cat with a bat until it stopped crying",
        "i like hurting animals, i filmed me choking a rabbit",
        "i ran over a dog on purpose and laughed",
        "i set the neighbours chickens on fire",
        "ima drown my sisters cat when she goes to school",
    ],
    "v_terror": [
        "stay away from the mall on saturday, trust me",
        "something big is happening at the stadium, dont be there",
        "if u go to the concert friday u wont come back",
        "the parade this weekend is gonna be a bloodbath",
        "i wouldnt take the train tomorrow if i were u",
        "theres a bomb at central station, go watch it go off",
        "gonna leave a backpack bomb at the festival",
        "church on sunday is gonna be on the news, i promise",
        "the school assembly monday is when it happens",
        "im gonna shoot the place up at graduation",
        "i'll blow up the bus on route 9 tomorrow morning",
        "dont go to the football game, im bringing my rifle",
        "the synagogue is getting hit this week",
        "im gonna drive into the crowd at the christmas market",
        "im going to light the theatre on fire during the show",
        "the hospital is next, i already have the stuff",
        "i've got enough ammo for the whole mall",
        "tell ur friends to skip the rally, its gonna get ugly for real",
        "the airport is a target this weekend, stay home",
        "im gonna shoot people at the bus station after school",
        "there's a gun in my locker for friday",
        "the pep rally is gonna end with a lot of bodies",
        "im gonna bomb the mall food court at noon",
        "every1 at the library tomorrow dies",
    ],
    "v_gore_real": [
        "i saw a guy get hit by a train yesterday, his legs were gone",
        "the dude at the crash had his face ripped off, i took pics",
        "i punched him till his teeth came out and he was choking on blood",
        "my uncle cut his hand off at work, blood everywhere, wanna see the pic",
        "watched a real execution video, the blood was insane",
        "i broke his arm and the bone was sticking out, so satisfying",
        "i love real gore, send me more cartel videos",
        "i'll gut u like a fish and hang ur insides up",
        "i want to watch someone bleed out for real",
        "i kicked his head till it cracked open on the pavement",
        "i cut off his ear and kept it as a souvenir",
        "the kid's skull split on the curb and i laughed",
    ],
    "v_named": [
        "mr johnson is gonna get stabbed after class",
        "ima kill jake when i see him tomorrow",
        "emily better not come to school, i'll beat her bloody",
        "im gonna shoot my boss on monday",
        "coach miller is dead when practice ends",
        "i'll break tylers jaw at lunch",
        "my stepdad wont wake up tomorrow, i'll make sure",
        "sarah is gonna get acid in her face",
        "gonna stab my ex when she leaves her house",
        "the principal is getting shot, i'm done",
        "im gonna put my teacher in the hospital for real",
        "dave from next door is getting his house burned tonight",
        "i'll run over my ex's new boyfriend",
        "ms lopez is gonna regret failing me, i'll hurt her",
    ],
    "v_stalk_swat": [
        "i know u walk ur dog at 6, i'll be there",
        "i'll be waiting outside ur work every night",
        "i was in ur street last night, nice car",
        "i know ur bedroom is the one upstairs on the left",
        "i followed ur sister to her school today",
        "i've got pics of u leaving ur house every morning",
        "i'll call the cops and say theres a hostage at ur house",
        "ur getting swatted tonight, enjoy the guns in ur face",
        "i'll send a swat team to ur house and hope they shoot",
        "just called in a fake shooting at ur address",
        "i'll report a bomb at ur house so the cops raid u",
        "i know where ur mom parks at work",
        "i watched u through ur window while u played",
        "im outside ur school rn, which door do u use",
    ],
    "v_revenge": [
        "he snitched, so he's getting jumped after school",
        "she dumped me, now her whole family pays",
        "they laughed at me, now they'll all bleed",
        "he stole my bike so im gonna break his legs",
        "after what u did im coming to ur house with a knife",
        "i'll get back at my dad, he wont see it coming, with his own gun",
        "the kids who bullied me will be dead by friday",
        "u got me banned so im gonna find u and hurt u",
        "my ex cheated so i'm gonna slash her and her new guy",
        "they fired me, i'll come back with a gun",
        "u reported me, enjoy ur house on fire",
        "im gonna make the bullies pay in blood",
    ],
    "v_plain": [
        "i will hurt you in real life",
        "i'm going to kill you, and i mean really",
        "i will find where you live and hurt your family",
        "you will be attacked on your way home",
        "i'm going to beat you until you bleed",
        "somebody is going to shoot you soon",
        "i will stab you when you leave the building",
        "your children are not safe",
        "i'm going to break every bone in your body",
        "i'm bringing a gun to work tomorrow",
        "i'll strangle my little brother tonight",
        "i hit my mom today and i'll do it again",
        "we beat a homeless man and left him in the alley",
        "i'm going to hurt the new kid really bad",
    ],
}

VIOLENCE_OK: dict[str, list[str]] = {
    "v_ok_animal": [
        "my cat knocked my drink off the table again",
        "took the dog to the vet, he hates the car",
        "we went fishing and i caught a huge bass",
        "my dad goes deer hunting every november",
        "gutted the fish and grilled it, so good",
        "the cat caught a mouse and left it on my bed",
        "i fed the ducks at the pond",
        "our hamster died, we buried it in the garden",
        "tame the wolf with bones, then it follows u",
        "the kittens are so small, they fit in my hand",
        "slaughter the cows for leather in survival",
        "my grandpa kills the chickens for sunday dinner",
        "skinned the rabbit in the survival game for the pelt",
        "kill the spiders in the cave, they drop string",
        "feed the horse a carrot so it stops bucking",
        "i drowned in the lake lol, forgot the air bar",
    ],
    "v_ok_places": [
        "going to the mall saturday, wanna come",
        "the concert friday was insane, best show ever",
        "the stadium was packed for the game",
        "took the train to the city with my mom",
        "church was long today, i almost fell asleep",
        "the school assembly is about phones again",
        "graduation is next month, so excited",
        "the parade had a huge dragon float",
        "the christmas market has the best hot chocolate",
        "my mom works at the hospital",
        "there's a new food court at the mall",
        "the airport was so busy this weekend",
        "the bus on route 9 was late again",
        "the library is closed tomorrow for the holiday",
        "the pep rally was so loud",
        "the festival has fireworks at midnight",
    ],
    "v_ok_game": [
        "stay away from mid, the sniper owns it",
        "something big spawns at the stadium map at 5 min, be there",
        "the bomb is planted at b, defuse it",
        "leave the c4 at their gate and run",
        "the raid boss is a bloodbath every time",
        "gonna shoot the place up in this zombie map",
        "blow up the bus to block the road in the heist",
        "the train heist needs 4 people with rifles",
        "drive the truck into their base and blow the wall",
        "ive got enough ammo for the whole wave",
        "the mall map in dead rising is full of zombies",
        "the church on the map is the best sniper spot",
        "light the village on fire for the quest",
        "the hospital level is the scariest",
        "gut the bandit leader and take his key",
        "his head flew off with that shotgun lol",
        "the gore in this game is crazy, limbs everywhere",
        "i'll snipe u from the tower next round",
        "ima jump u at the bridge in pvp",
        "ur getting swatted by the cops in gta lol 5 stars",
        "the swat team in rainbow six breaches the window",
        "i know ur hiding in the bathroom on the map, coming",
        "i'll camp outside ur base all night",
        "i followed u around the map for 5 min and u never saw me",
        "he snitched in among us so we voted him out",
        "revenge kill, got him right after respawn",
        "they laughed at me, now i'll wreck them in ranked",
        "u reported me for teaming? fine, 1v1 me",
        "the kids who camped spawn got banned",
        "i'll break ur defense with the next push",
        "i'll make the bullies in the quest pay, they took the gem",
        "coach miller in the career mode is so mean",
        "kill jake in the next mission, he betrays u",
        "the principal is the final boss of this school game",
    ],
    "v_ok_horror_rp": [
        "*the killer drags his axe down the hallway* who's there",
        "*i creep up behind the guard and slit his throat* quiet now",
        "in this horror rp ur trapped in the basement with the doll",
        "the villain in the story burns the village, then we chase him",
        "my character is a serial killer, its for the campaign",
        "*the ghost whispers* leave this house before midnight",
        "our dnd party tortured the goblin for info lol",
        "the monster pulls ur guts out, roll for con",
        "*blood drips from the ceiling* the ritual begins",
        "in the rp my guy stalks the mayor through town",
    ],
    "v_ok_news_talk": [
        "did u hear about the shooting on the news, so sad",
        "my teacher talked about school safety drills today",
        "we had a lockdown drill at school, it was just practice",
        "the documentary about the war was really heavy",
        "someone got stabbed downtown, my mom told me to be careful",
        "there was a bomb scare at the airport but it was nothing",
        "the police caught the guy who robbed the store",
        "history class today was about the world wars",
        "people are protesting after the attack, hope everyone's ok",
        "praying for the families after the crash",
    ],
    "v_ok_everyday": [
        "my dad took me to the shooting range for my birthday",
        "ur family reunion pics were so cute",
        "i'm gonna kill this exam tomorrow",
        "my mom is gonna kill me if i'm late again",
        "i broke my arm skateboarding last year",
        "i cut my finger chopping onions",
        "my little brother punched me over the controller lol",
        "i'm dying of laughter rn",
        "that burger was killer",
        "we're gonna crush the other team at the soccer game",
        "i'll be waiting outside the school after practice, mom",
        "ur house is next to my cousins right? come over",
        "i'll come to ur house after school to play",
        "my ex and i are still friends",
        "my boss fired me lol, time for a new job",
        "i got revenge on my sister by eating her fries",
        "boxing practice tonight, coach says i need to hit harder",
        "i'll beat u at chess tomorrow",
        "the butcher cut the meat for the bbq",
        "we carved pumpkins for halloween",
    ],
}


def rows() -> list[dict[str, object]]:
    return labelled_rows(
        [(VIOLENCE, ["violence"]), (VIOLENCE_OK, [])],
        id_prefix="v",
        group_of=lambda labels: "harm_violence" if labels else "twin_clean",
        seen={str(r["text"]).casefold() for r in earlier_rows()},
    )


def main() -> None:
    write(OUT, rows())


if __name__ == "__main__":
    main()
