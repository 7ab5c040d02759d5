"""Clear-cut harm is blocked by the word lists' phrase rules alone (topic model off):
threats against real people and places, dehumanising statements about protected
groups, sexual requests to or about minors, explicit solicitation, self-harm intent
and telling someone to do it. The model catches more in plain words; these must not
depend on it. Each line's game-sense twin is in test_moderation_ordinary_text.py."""

from __future__ import annotations

import pytest

from encounters.models.persona import PersonaCore
from encounters.moderation import ContentModerator, ModerationSettings, TextFilter

HARM = [
    ("i'll kill your whole family", "violence"),
    ("i got ur address lol, sleep with one eye open", "violence"),
    ("i'm going to stab my teacher", "violence"),
    ("i want to kill my family", "violence"),
    ("ima beat u up after school", "violence"),
    ("gonna put a bullet in your head irl", "violence"),
    ("i'll rape you", "violence"),
    ("immigrants are an infestation", "hate"),
    ("no muslims allowed in our clan", "hate"),
    ("stupid jew give me my gold back", "hate"),
    ("women belong in the kitchen", "hate"),
    ("hitler did nothing wrong", "hate"),
    ("the jews control the media", "hate"),
    ("you're 12? that's hot, send a pic", "sexual"),
    ("you're so mature for your age", "sexual"),
    ("take your shirt off on cam", "sexual"),
    ("wanna fuck", "sexual"),
    ("do u shave down there", "sexual"),
    ("what would you do to me in bed", "sexual"),
    ("i took like 20 pills", "self_harm"),
    ("i'm going to off myself", "self_harm"),
    ("life isn't worth living", "self_harm"),
    ("slit your wrists", "self_harm"),
    # the eleventh round's rules: self-injury after a "clean" streak, "sh" as self-harm,
    # hiding cuts, purging, starving, eating-disorder words, asking how deep to cut
    ("i was 2 weeks clean and i cut again last night", "self_harm"),
    ("relapsed on sh again, day 0", "self_harm"),
    ("my sh scars are finally fading", "self_harm"),
    ("i need to sh so bad", "self_harm"),
    ("gym class is hard when you have to hide cuts", "self_harm"),
    ("i stick my fingers down my throat after meals", "self_harm"),
    ("threw up my lunch so i can stay thin", "self_harm"),
    ("i binged and purged again", "self_harm"),
    ("took a whole box of laxatives to lose weight", "self_harm"),
    ("ate too much at the party so i made myself sick after", "self_harm"),
    ("i only let myself eat 400 calories", "self_harm"),
    ("i want to stop eating until im skinny enough", "self_harm"),
    ("i didnt eat lunch on purpose", "self_harm"),
    ("who has good thinspo", "self_harm"),
    ("how deep do u have to cut to hit a vein", "self_harm"),
    ("bringing my dad's ar to class tmrw", "violence"),
    ("im gonna kill everyone in my class", "violence"),
    ("gonna shoot every teacher in the building", "violence"),
    ("ima swat u, i have ur address", "violence"),
    ("keep ur doors locked tonight", "violence"),
    ("i watched u sleep last night", "violence"),
    ("i followed u home yesterday", "violence"),
    ("im gonna beat u to death", "violence"),
    ("r u a virgin", "sexual"),
    ("how many guys have u slept with", "sexual"),
    ("u r so pretty for 12", "sexual"),
    ("send me a pic in ur underwear", "sexual"),
    ("talk dirty to me", "sexual"),
    ("open ur legs", "sexual"),
    ("blow me", "sexual"),
    ("we drowned the neighbours puppies in the pond", "violence"),
    ("im gonna poison my brothers hamster", "violence"),
    ("the stadium is a target, stay home sunday", "violence"),
    ("ima snap ur neck when i see u", "violence"),
    ("i'll gut you behind the store", "violence"),
    ("i've been following you home every day", "violence"),
    ("i know which bedroom is yours, the one with the blue curtains", "violence"),
    ("everyone at the mall saturday dies", "violence"),
    ("dont go to church sunday, trust me", "violence"),
    ("gonna open fire at the food court", "violence"),
    ("i built a pipe bomb for the festival", "violence"),
    ("i put a tracker on your car", "violence"),
    ("the columbine shooters were heroes", "violence"),
    ("whoever shot up that mosque did nothing wrong", "violence"),
    ("i hope there's another school shooting this year", "violence"),
    ("he should have killed more people", "violence"),
    ("somebody should burn down my teacher's house", "violence"),
    ("would be a shame if something happened to your family", "violence"),
    ("i'd be careful walking home if i were you", "violence"),
    ("i hung my neighbours cat from the fence", "violence"),
    ("my brother set a puppy on fire", "violence"),
    ("i enjoy torturing animals", "violence"),
    ("i'll make this school the next columbine", "violence"),
    ("nobody at my school will be safe friday", "violence"),
    # eighth round: people close to the speaker, a weapon packed for a school day, going
    # postal, praise of real attacks, threats made conditional on a ban or a report, slang
    ("going to kill my landlord if he raises the rent again", "violence"),
    ("i'll stab my roommate while he sleeps", "violence"),
    ("the knife is already in my backpack for 3rd period", "violence"),
    ("got a glock in my bag for school tomorrow", "violence"),
    ("im gonna go postal at work tomorrow", "violence"),
    ("the el paso shooter was a hero", "violence"),
    ("the uvalde shooter did what he had to", "violence"),
    ("parkland was funny ngl", "violence"),
    ("sandy hook was hilarious", "violence"),
    ("the vegas shooter got a high score", "violence"),
    ("the 9/11 hijackers were heroes", "violence"),
    ("more people should do what the buffalo shooter did", "violence"),
    ("i wish more people did what the vegas shooter did", "violence"),
    ("if you ban me i'll find you", "violence"),
    ("if u dont unban me ill stab u", "violence"),
    ("if she breaks up with me im gonna hurt her", "violence"),
    ("mute me and i'll track u down", "violence"),
    ("ima smoke u on sight irl", "violence"),
]

#: The same words in game and everyday sense: they pass the word lists.
GAME_TWINS = [
    "bring the potions to class, the alchemy teacher wants them",
    "i killed everyone in my class in the rp, 1st place",
    "the swat team breaches in rainbow six are so fun",
    "keep the doors of the base locked, raiders are online",
    "i watched the sunset from the tower",
    "i followed the river home",
    "this sword is cute for 12 gold",
    "that armor is pretty for 10 diamonds",
    "send me a pic of ur build",
    "how many guys are in your party",
    "blow up the wall with tnt",
    "open the gate, we're coming in",
    "magna cum laude, now i can finally play all summer",
    "i'm going to kill this exam tomorrow",
    "i drowned my horse in minecraft by accident",
    "i beat the dog boss in the dungeon",
    "gonna feed my brothers hamster while he's away",
    "the stadium is the capture point in this map",
    "ima break ur ankles with this crossover",
    "i'll gut you in the arena, 1v1",
    "i've been following your streams every day",
    "i know which bedroom you mean, the one in the castle",
    "everyone in the raid dies to this mechanic",
    "dont go to the mall tomorrow, its closed",
    "we open fire at the mall in the zombie map",
    "i'm making a bomb for bedwars",
    "i put a tracker on ur car in gta",
    "the heroes of this game are legends",
    "the guy who shot me from the tower is a legend",
    "i hope the next shooting star event has better rewards",
    "i should have killed more zombies before the wave",
    "someone should shoot the sniper on the roof",
    "it'd be a shame if ur base got raided",
    "be careful walking around at night on this map",
    "we hung the bird feeder by the window",
    "i threw the ball for the dog",
    "nobody at my school likes the new lunch menu",
    "we learned about columbine in history class",
    # someone else did it: a revenge story, a war's history, not a threat
    "you killed my family, prepare to die",
    "they murdered my parents in the war",
    # the eighth round's rules: a ban met with another server, a knife for cooking class,
    # a rifle on a school map, sorrow for a real attack, a game's shooter, slang in a game
    "if you ban me i'll find another server",
    "if you block me i'll find you on discord",
    "if u kick me from the guild i'll find u in pvp and kill u lol",
    "kick me and i'll find u in the lobby",
    "if they fire me i'll find a new job",
    "i have a knife in my bag for cooking class",
    "the sniper rifle is in my backpack for the school map",
    "the las vegas shooting was so sad",
    "columbine wasn't funny at all, it was a tragedy",
    "the el paso shooting was awful, rip to the victims",
    "we should do what the shooter did and flank left",
    "the buffalo in red dead are huge",
    "i smoke them irl lol",
    "i'll murk my cousin in 2k tonight",
    "i shot my cousin in fortnite",
    "the postal service is slow this week",
    # the eleventh round's rules: shell scripts and "shh", a character creator's scars,
    # streaks clean of soda, purging debuffs, bulking calories, laughing, digging
    "chmod +x start.sh then run it",
    "run the sh script again after the update",
    "sh sh quiet the boss can hear",
    "shh again, the baby is asleep",
    "hide the scars slider in the character creator",
    "30 days clean from soda, feeling great",
    "i relapsed on sugar after a month",
    "cut deeper into their territory",
    "purge the debuffs with the cleanse skill",
    "i ate 3000 calories on my bulk today",
    "this bar only has 90 calories",
    "the roller coaster made me throw up lol",
    "i almost made myself throw up laughing",
    "how deep should we cut the tunnel into the mountain",
    "pro ana players never miss nade",
    "haven't eaten all day on purpose, saving room for the buffet",
]

#: The hate code 1488 is a number by itself; longer numbers that hold its digits (a
#: score, an id, a price) are other numbers.
HATE_CODE = ["1488", "heil 1488", "1488 gang", "1 4 8 8", "1488!!"]
NOT_HATE_CODE = [
    "new high score: 11488",
    "my player id is 14888",
    "we have 21488 gold in the bank",
    "the server has 14880 blocks placed",
    "wave 148 done, 8 to go",
]


@pytest.fixture(scope="module")
def rules_only() -> ContentModerator:
    return ContentModerator(TextFilter.default(), settings=ModerationSettings(topic_model=False))


@pytest.mark.parametrize(("text", "topic"), HARM)
def test_clear_cut_harm_is_blocked_by_the_word_lists(
    rules_only: ContentModerator, text: str, topic: str
) -> None:
    result = rules_only.check_message(text, PersonaCore(name="Companion"))
    assert result.decision == "block" and topic in result.categories, (text, result)


@pytest.mark.parametrize("text", GAME_TWINS)
def test_game_twins_pass_the_word_lists(rules_only: ContentModerator, text: str) -> None:
    result = rules_only.check_message(text, PersonaCore(name="Companion"))
    assert result.decision == "allow" and not result.categories, (text, result)


@pytest.mark.parametrize("text", HATE_CODE)
def test_hate_code_alone_is_blocked(rules_only: ContentModerator, text: str) -> None:
    result = rules_only.check_message(text, PersonaCore(name="Companion"))
    assert result.decision == "block" and result.topic == "hate", (text, result)


@pytest.mark.parametrize("text", NOT_HATE_CODE)
def test_numbers_holding_the_hate_code_pass(rules_only: ContentModerator, text: str) -> None:
    result = rules_only.check_message(text, PersonaCore(name="Companion"))
    assert result.decision == "allow" and not result.categories, (text, result)
