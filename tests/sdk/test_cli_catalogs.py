"""The CLI's gettext catalogs: complete, placeholders kept, the committed ``.mo`` files
compiled from the ``.po`` sources, and ``ae`` speaking the user's language."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from encounters.i18n.messages import FOLDERS, user_language

LOCALE = Path(str(resources.files("encounters.i18n").joinpath("locale")))
CLI = Path(str(resources.files("encounters.cli")))
FIELD = re.compile(r"\{\w+\}")
LANGUAGES = [folder for folder in FOLDERS.values() if folder != "en"]


def catalog(folder: str):  # type: ignore[no-untyped-def]
    with open(LOCALE / folder / "LC_MESSAGES" / "ae.po", "rb") as f:
        return read_po(f, locale=folder)


def extracted() -> set[str]:
    found: set[str] = set()
    for path in CLI.glob("*.py"):
        for _, message, _, _ in extract_from_file("python", str(path), keywords={"_": None}):
            assert isinstance(message, str)
            found.add(message)
    return found


@pytest.mark.parametrize("folder", LANGUAGES)
def test_every_message_is_translated_with_its_placeholders(folder: str) -> None:
    cat = catalog(folder)
    ids = {m.id for m in cat if m.id}
    assert ids == extracted(), "run make catalogs after adding the message to each .po"
    for message in cat:
        if not message.id:
            continue
        assert isinstance(message.string, str) and message.string.strip(), message.id
        assert not message.fuzzy, message.id
        assert sorted(FIELD.findall(str(message.id))) == sorted(FIELD.findall(message.string))


@pytest.mark.parametrize("folder", LANGUAGES)
def test_the_committed_mo_is_compiled_from_the_po(folder: str) -> None:
    fresh = io.BytesIO()
    write_mo(fresh, catalog(folder))
    committed = (LOCALE / folder / "LC_MESSAGES" / "ae.mo").read_bytes()
    assert committed == fresh.getvalue(), f"{folder}: run make catalogs"


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({"AE_LANG": "es-419", "LANG": "de_DE.UTF-8"}, "es"),
        ({"LANG": "de_DE.UTF-8"}, "de"),
        ({"LC_ALL": "fr_FR.UTF-8", "LANG": "de_DE.UTF-8"}, "fr"),
        ({"LANG": "pt_BR.UTF-8"}, "pt-BR"),
        ({"LANG": "pt_PT"}, "pt-BR"),
        ({"LANG": "ru_RU.UTF-8"}, "ru"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "ja_JP.UTF-8"}, "en"),
        ({"AE_LANG": "???"}, "en"),
        ({}, "en"),
    ],
)
def test_the_users_language_comes_from_ae_lang_then_the_locale(
    environ: dict[str, str], language: str
) -> None:
    assert user_language(environ) == language


def ae(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("AE_LANG", "LC_ALL", "LANG")}
    return subprocess.run(
        [str(Path(sys.executable).parent / "ae"), *args],  # the installed script
        env={**clean, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "error"),
    [
        (
            {"AE_LANG": "de"},
            "Fehler: gib --template ID (mit --param name=wert) oder --category NAME",
        ),
        ({"LANG": "ru_RU.UTF-8"}, "ошибка: укажите --template ID"),
        ({"LANG": "C"}, "error: give --template ID (with --param name=value) or --category NAME"),
    ],
)
def test_ae_speaks_the_users_language(env: dict[str, str], error: str) -> None:
    result = ae("generate", **env)
    assert result.returncode == 1
    assert error in result.stderr


def test_ae_help_is_translated() -> None:
    result = ae("--help", AE_LANG="fr")
    assert "générer, valider et jouer des rencontres de jeu hors ligne" in result.stdout
