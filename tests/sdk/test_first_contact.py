"""What a newcomer meets first: the addon and the Node bridge reachable from an
install, the persona format, and errors that say in one line how to fix them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from encounters.cli import app
from encounters.models.persona import PersonaCore
from tests.conftest import encounter_dict

ROOT = Path(__file__).parents[2]
runner = CliRunner()


def ae(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# -- reachable from an install ---------------------------------------------------------


def test_addon_export_writes_the_gmod_addon_folder(tmp_path: Path) -> None:
    target = tmp_path / "garrysmod" / "addons" / "ai_companion"
    code, out, err = ae("addon", "export", "gmod", str(target), "--json")
    assert code == 0, err
    written = json.loads(out)["files"]
    source = ROOT / "lua_addon"
    expected = sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
    assert sorted(written) == expected
    assert "lua/autorun/server/ai_companion_init.lua" in written
    for name in expected:
        assert (target / name).read_bytes() == (source / name).read_bytes()
    again, _, err = ae("addon", "export", "gmod", str(target))
    assert again == 1
    assert one_line(err).endswith(
        "is not empty; give an empty or new folder, or --force to overwrite"
    )


def test_the_wheel_carries_the_addon_and_the_entry_points(tmp_path: Path) -> None:
    hatchling = Path(sys.executable).with_name("hatchling")
    subprocess.run(
        [str(hatchling), "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("*.whl")
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        entry_points = next(zf.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "encounters/addons/gmod/addon.json" in names
    assert "encounters/addons/gmod/lua/ai_companion/link.lua" in names
    assert "ae = encounters.cli:main" in entry_points
    assert "[ae.commands]\nbridge = encounters_bridge.cli" in entry_points


def test_the_node_bridge_is_publishable_and_runnable_with_npx() -> None:
    package = json.loads((ROOT / "minecraft_plugin_bridge" / "package.json").read_text())
    assert not package.get("private", False)
    [(command, path)] = package["bin"].items()
    assert command == package["name"]  # npx ae-minecraft-bridge runs it
    script = ROOT / "minecraft_plugin_bridge" / path
    assert script.read_text().startswith("#!/usr/bin/env node\n")
    assert any(path.startswith(entry.rstrip("/")) for entry in package["files"])


def test_persona_schema_and_the_example_persona() -> None:
    code, out, _ = ae("schema", "persona")
    assert code == 0
    schema = json.loads(out)
    assert schema["required"] == ["name"] and "safety" in schema["properties"]
    example = json.loads((ROOT / "examples" / "persona.json").read_text())
    persona = PersonaCore.model_validate(example)
    assert persona.name == "Rook" and "emote" in persona.safety.allowed_actions


def test_shell_completion_is_offered() -> None:
    code, out, _ = ae("--show-completion", "bash")
    assert code == 0 and "_AE_COMPLETE=complete_bash" in out


# -- errors that name the fix --------------------------------------------------------


def test_a_data_folder_that_is_a_file_says_so(tmp_path: Path) -> None:
    afile = tmp_path / "data"
    afile.write_text("")
    code, _, err = ae("--data-dir", str(afile), "sessions", "list")
    assert code == 1
    assert one_line(err) == (
        f"error: the data folder {str(afile)!r} is a file, not a folder; "
        "point --data-dir (or AE_DATA_DIR) at a folder you can write to"
    )


@pytest.fixture
def read_only_folder() -> Iterator[Path]:
    """A folder this test's child process cannot write to: as root (who writes
    anywhere) the child runs as nobody."""
    top = Path(tempfile.mkdtemp())
    top.chmod(0o755)
    folder = top / "data"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)
    shutil.rmtree(top)


def test_a_read_only_data_folder_is_reported_as_such(read_only_folder: Path) -> None:
    # root writes anywhere: run as nobody (util-linux setpriv, which also reaches an
    # interpreter under a private home where subprocess's own user switch cannot)
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    done = subprocess.run(
        [*(as_nobody if os.geteuid() == 0 else []), sys.executable, "-c",
         "from encounters.cli import main; main()",
         "--data-dir", str(read_only_folder), "play", "--auto"],
        capture_output=True, text=True, timeout=120, cwd=read_only_folder.parent, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert one_line(done.stderr) == (
        f"error: the data folder {str(read_only_folder)!r} is not writable (Permission denied); "
        "point --data-dir (or AE_DATA_DIR) at a folder you can write to, or give this user "
        "write access to it"
    )


def test_analytics_of_an_unknown_encounter_is_an_error(tmp_path: Path) -> None:
    code, out, err = ae("--data-dir", str(tmp_path), "analytics", "encounter", "enc_typo")
    assert (code, out) == (1, "")
    assert one_line(err) == (
        "error: no encounter 'enc_typo': none is stored and no play of it is recorded; "
        "ae encounters list shows the stored ids"
    )


def test_a_campaign_needs_its_encounters_and_plays_step_by_step(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    campaign = ROOT / "examples" / "campaign.json"
    code, _, err = ae(*data, "campaign", "start", str(campaign), "bob")
    assert code == 1
    assert one_line(err) == (
        "error: campaign 'bridge_saga' names encounters that are not in the store: "
        "enc_bridge_ambush, enc_toll_house; save them first (Engine.save_encounter, or "
        "ae encounters import FILE)"
    )
    quests = tmp_path / "quests.json"
    quests.write_text(json.dumps([
        encounter_dict(id="enc_bridge_ambush"),
        encounter_dict(id="enc_toll_house", category="exploration"),
    ]))  # fmt: skip
    assert ae(*data, "encounters", "import", str(quests))[0] == 0
    code, out, err = ae(*data, "campaign", "start", str(campaign), "bob", "--json")
    assert code == 0, err
    run = json.loads(out)
    assert run["next_encounter"] == "enc_bridge_ambush"
    for step in ("enc_bridge_ambush", "enc_toll_house"):
        code, out, err = ae(*data, "campaign", "play", run["id"], "--auto")
        assert code == 0, err
        assert step in out
    code, out, _ = ae(*data, "campaign", "status", run["id"], "--json")
    status = json.loads(out)
    assert status["status"] == "completed"
    assert status["completed"] == ["enc_bridge_ambush", "enc_toll_house"]
