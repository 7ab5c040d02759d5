"""What the offline brain says and understands, per language.

Why a table per language rather than translated strings: each line is written as a
speaker of the language would say it, in the register of the persona's tone (Spanish,
Portuguese and Russian companions say ``tú``/``você``/``ты`` to a friend, German ``du``,
French ``tu``), and the requests a player types ("sígueme", "folge mir", "за мной")
are matched in the player's own words. Lines avoid verb forms that would depend on the
companion's grammatical gender, since a persona has none.

Limits: requests are understood in the companion's language and in English (players
often type English anyway); other languages fall back to the in-character idle line.
``{name}`` is the player's name, ``{goal}`` the persona's first goal as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..i18n.tags import resolve_or_english

Tone = str


@dataclass(frozen=True)
class Lines:
    greetings: dict[Tone, str]
    acks: dict[str, dict[Tone, str]]
    idle: dict[Tone, list[str]]
    goal: str
    greeting: re.Pattern[str]
    follow: re.Pattern[str]
    stop: re.Pattern[str]
    come: re.Pattern[str]


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


LINES: dict[str, Lines] = {
    "en": Lines(
        greetings={
            "curious": "Hello, {name}! What brings you here?",
            "serious": "Greetings, {name}.",
            "playful": "Hey hey, {name}! Ready for some fun?",
            "mysterious": "Ah, {name}... I was expecting you.",
        },
        acks={
            "follow": {
                "curious": "Lead the way, {name}!",
                "serious": "Understood. I will follow.",
                "playful": "Right behind you, {name}!",
                "mysterious": "Your shadow, then.",
            },
            "stop": {
                "curious": "Alright, I'll wait here.",
                "serious": "Holding position.",
                "playful": "Freezing like a statue!",
                "mysterious": "I shall linger.",
            },
            "come": {
                "curious": "On my way, {name}!",
                "serious": "Coming.",
                "playful": "Zoom! Coming over!",
                "mysterious": "I come when called.",
            },
        },
        idle={
            "curious": [
                "Interesting! Tell me more.",
                "I wonder what lies past those hills.",
                "Hmm, I have never thought about it that way.",
            ],
            "serious": ["Noted.", "Let us stay focused.", "There is work to be done."],
            "playful": [
                "Ha! You are funny.",
                "Ooh, let's go on an adventure!",
                "I bet I can find treasure before you!",
            ],
            "mysterious": [
                "Some things are better left unsaid.",
                "The stars whisper of such things.",
                "Perhaps... perhaps not.",
            ],
        },
        goal=" I am here to {goal}.",
        greeting=_re(r"\b(hello|hi|hey|howdy|greetings|hiya)\b"),
        follow=_re(r"\bfollow\s+me\b"),
        stop=_re(r"\b(stop|wait|stay)\b"),
        come=_re(r"\b(come\s+here|come\s+to\s+me|over\s+here)\b"),
    ),
    "es": Lines(
        greetings={
            "curious": "¡Hola, {name}! ¿Qué te trae por aquí?",
            "serious": "Saludos, {name}.",
            "playful": "¡Eh, {name}! ¿Te apetece divertirte un rato?",
            "mysterious": "Ah, {name}... Te estaba esperando.",
        },
        acks={
            "follow": {
                "curious": "¡Tú primero, {name}!",
                "serious": "Entendido. Te sigo.",
                "playful": "¡Voy tras tus pasos, {name}!",
                "mysterious": "Seré tu sombra.",
            },
            "stop": {
                "curious": "Vale, te espero aquí.",
                "serious": "Mantengo la posición.",
                "playful": "¡Me quedo inmóvil como una estatua!",
                "mysterious": "Aguardaré.",
            },
            "come": {
                "curious": "¡Ya voy, {name}!",
                "serious": "Voy.",
                "playful": "¡Zas! ¡Allá voy!",
                "mysterious": "Acudo cuando me llaman.",
            },
        },
        idle={
            "curious": [
                "¡Qué interesante! Cuéntame más.",
                "Me pregunto qué habrá tras esas colinas.",
                "Mmm, nunca lo había pensado así.",
            ],
            "serious": ["Anotado.", "Mantengamos la concentración.", "Hay trabajo que hacer."],
            "playful": [
                "¡Ja! Qué gracia tienes.",
                "¡Uy, vámonos de aventura!",
                "¡Apuesto a que encuentro el tesoro antes que tú!",
            ],
            "mysterious": [
                "Hay cosas que es mejor no decir.",
                "Las estrellas susurran sobre eso.",
                "Quizá... o quizá no.",
            ],
        },
        goal=" Estoy aquí para esto: {goal}.",
        greeting=_re(r"\b(hola|buenas|buenos días|saludos|qué tal)\b"),
        follow=_re(r"\b(sígueme|sigueme|ven conmigo)\b"),
        stop=_re(r"\b(detente|espera|quieto|quieta|alto)\b"),
        come=_re(r"\b(ven aquí|ven aqui|ven acá|ven aca|acércate|acercate)\b"),
    ),
    "de": Lines(
        greetings={
            "curious": "Hallo, {name}! Was führt dich hierher?",
            "serious": "Sei gegrüßt, {name}.",
            "playful": "Hey, {name}! Lust auf ein bisschen Spaß?",
            "mysterious": "Ah, {name} … ich habe dich erwartet.",
        },
        acks={
            "follow": {
                "curious": "Geh voran, {name}!",
                "serious": "Verstanden. Ich folge dir.",
                "playful": "Dicht hinter dir, {name}!",
                "mysterious": "Dann bin ich dein Schatten.",
            },
            "stop": {
                "curious": "Gut, ich warte hier.",
                "serious": "Ich halte die Stellung.",
                "playful": "Erstarrt wie eine Statue!",
                "mysterious": "Ich verweile.",
            },
            "come": {
                "curious": "Bin unterwegs, {name}!",
                "serious": "Ich komme.",
                "playful": "Zack! Bin gleich da!",
                "mysterious": "Ich komme, wenn man mich ruft.",
            },
        },
        idle={
            "curious": [
                "Spannend! Erzähl mir mehr.",
                "Was wohl hinter diesen Hügeln liegt?",
                "Hm, so habe ich das noch nie gesehen.",
            ],
            "serious": ["Notiert.", "Bleiben wir konzentriert.", "Es gibt viel zu tun."],
            "playful": [
                "Ha! Du bist lustig.",
                "Oh, lass uns ein Abenteuer erleben!",
                "Wetten, dass ich den Schatz vor dir finde?",
            ],
            "mysterious": [
                "Manche Dinge bleiben besser ungesagt.",
                "Die Sterne flüstern davon.",
                "Vielleicht … vielleicht auch nicht.",
            ],
        },
        goal=" Dafür bin ich hier: {goal}.",
        greeting=_re(r"\b(hallo|hi|servus|moin|guten tag|grüß dich)\b"),
        follow=_re(r"\b(folge mir|folg mir|komm mit)\b"),
        stop=_re(r"\b(halt|stopp|warte|bleib stehen)\b"),
        come=_re(r"\b(komm her|komm zu mir|hierher)\b"),
    ),
    "fr": Lines(
        greetings={
            "curious": "Bonjour, {name} ! Qu'est-ce qui t'amène ici ?",
            "serious": "Salutations, {name}.",
            "playful": "Coucou, {name} ! Envie de t'amuser ?",
            "mysterious": "Ah, {name}… je t'attendais.",
        },
        acks={
            "follow": {
                "curious": "Passe devant, {name} !",
                "serious": "Compris. Je te suis.",
                "playful": "Juste derrière toi, {name} !",
                "mysterious": "Je serai ton ombre.",
            },
            "stop": {
                "curious": "D'accord, je t'attends ici.",
                "serious": "Je garde la position.",
                "playful": "Immobile comme une statue !",
                "mysterious": "Je m'attarde.",
            },
            "come": {
                "curious": "J'arrive, {name} !",
                "serious": "J'arrive.",
                "playful": "Hop ! J'arrive !",
                "mysterious": "Je viens quand on m'appelle.",
            },
        },
        idle={
            "curious": [
                "Intéressant ! Raconte-m'en plus.",
                "Je me demande ce qu'il y a derrière ces collines.",
                "Hum, je n'y avais jamais pensé comme ça.",
            ],
            "serious": ["C'est noté.", "Restons concentrés.", "Il y a du travail."],
            "playful": [
                "Ha ! Tu es drôle.",
                "Oh, partons à l'aventure !",
                "Je parie que je trouve le trésor avant toi !",
            ],
            "mysterious": [
                "Certaines choses ne doivent pas être dites.",
                "Les étoiles murmurent de telles choses.",
                "Peut-être… ou peut-être pas.",
            ],
        },
        goal=" Je suis là pour ceci : {goal}.",
        greeting=_re(r"\b(bonjour|salut|coucou|bonsoir)\b"),
        follow=_re(r"\b(suis-moi|suivez-moi|viens avec moi)\b"),
        stop=_re(r"\b(arrête|arrete|attends|stop|reste là|reste la)\b"),
        come=_re(r"\b(viens ici|viens là|viens la|approche)\b"),
    ),
    "pt-BR": Lines(
        greetings={
            "curious": "Olá, {name}! O que te traz aqui?",
            "serious": "Saudações, {name}.",
            "playful": "E aí, {name}! Bora se divertir?",
            "mysterious": "Ah, {name}... Eu estava esperando você.",
        },
        acks={
            "follow": {
                "curious": "Pode ir na frente, {name}!",
                "serious": "Entendido. Vou seguir você.",
                "playful": "Bem atrás de você, {name}!",
                "mysterious": "Serei sua sombra.",
            },
            "stop": {
                "curious": "Tá bom, espero aqui.",
                "serious": "Mantendo a posição.",
                "playful": "Imóvel feito estátua!",
                "mysterious": "Vou aguardar.",
            },
            "come": {
                "curious": "Tô indo, {name}!",
                "serious": "Indo.",
                "playful": "Vrum! Chegando!",
                "mysterious": "Venho quando me chamam.",
            },
        },
        idle={
            "curious": [
                "Que interessante! Me conta mais.",
                "O que será que tem depois daquelas colinas?",
                "Hum, nunca tinha pensado nisso desse jeito.",
            ],
            "serious": ["Anotado.", "Vamos manter o foco.", "Temos trabalho a fazer."],
            "playful": [
                "Ha! Que engraçado.",
                "Oba, vamos viver uma aventura!",
                "Aposto que acho o tesouro antes de você!",
            ],
            "mysterious": [
                "Algumas coisas é melhor não dizer.",
                "As estrelas sussurram sobre isso.",
                "Talvez... talvez não.",
            ],
        },
        goal=" Estou aqui para isto: {goal}.",
        greeting=_re(r"\b(olá|ola|oi|e aí|e ai|bom dia|boa tarde)\b"),
        follow=_re(r"\b(me siga|siga-me|vem comigo|venha comigo)\b"),
        stop=_re(r"\b(pare|espere|fique aí|fique ai)\b"),
        come=_re(r"\b(vem aqui|venha aqui|vem cá|vem ca|chega aqui)\b"),
    ),
    "ru": Lines(
        greetings={
            "curious": "Привет, {name}! Что тебя сюда привело?",
            "serious": "Приветствую, {name}.",
            "playful": "Эй, {name}! Повеселимся?",
            "mysterious": "А, {name}… Тебя-то я и жду.",
        },
        acks={
            "follow": {
                "curious": "Веди, {name}!",
                "serious": "Понятно. Иду следом.",
                "playful": "Я прямо за тобой, {name}!",
                "mysterious": "Буду твоей тенью.",
            },
            "stop": {
                "curious": "Хорошо, подожду здесь.",
                "serious": "Держу позицию.",
                "playful": "Замираю, как статуя!",
                "mysterious": "Задержусь здесь.",
            },
            "come": {
                "curious": "Уже иду, {name}!",
                "serious": "Иду.",
                "playful": "Вжух! Уже бегу!",
                "mysterious": "Прихожу, когда зовут.",
            },
        },
        idle={
            "curious": [
                "Интересно! Расскажи ещё.",
                "Интересно, что там за холмами?",
                "Хм, об этом стоит подумать.",
            ],
            "serious": ["Принято.", "Не будем отвлекаться.", "Работы много."],
            "playful": [
                "Ха! Смешно.",
                "Ух, отправимся в приключение!",
                "Спорим, я найду сокровище раньше тебя!",
            ],
            "mysterious": [
                "О некоторых вещах лучше молчать.",
                "Звёзды шепчут о таком.",
                "Возможно… а возможно, и нет.",
            ],
        },
        goal=" Моя цель: {goal}.",
        greeting=_re(r"(?<!\w)(привет|здравствуй|здравствуйте|добрый день|хай)(?!\w)"),
        follow=_re(r"(?<!\w)(за мной|иди за мной|следуй за мной)(?!\w)"),
        stop=_re(r"(?<!\w)(стой|стоп|жди|подожди|замри)(?!\w)"),
        come=_re(r"(?<!\w)(иди сюда|ко мне|подойди)(?!\w)"),
    ),
}


def lines_for(language: str) -> Lines:
    """The table for ``language`` (a BCP 47 tag; English for languages without one)."""
    return LINES[resolve_or_english(language)]
