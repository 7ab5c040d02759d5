"""The ``ae`` command line, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import encounters
from encounters.cli import app
from tests.conftest import encounter_dict

runner = CliRunner()


def ae(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_validate_reports_every_error_per_file(tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", encounter_dict())
    bad_data = encounter_dict(difficulty=2)
    bad_data["objectives"][1]["quantity"] = 0
    bad = write(tmp_path / "bad.json", bad_data)
    broken = tmp_path / "broken.json"
    broken.write_text('{"title": "x",\n  "category": }', encoding="utf-8")
    code, out, _ = ae("validate", str(good), str(bad), str(broken), str(tmp_path / "nope.json"))
    assert code == 1
    assert f"✓ {good}" in out
    assert f"✗ {bad}" in out
    assert "difficulty: must be <= 1.0" in out
    assert "objectives[1].quantity: must be >= 1" in out
    assert "malformed JSON at line 2 column" in out
    assert "file not found" in out
    assert "1 valid, 3 invalid" in out


def test_validate_all_good_exits_zero_and_checks_templates_and_lists(tmp_path: Path) -> None:
    many = write(tmp_path / "many.json", [encounter_dict(id="a"), encounter_dict(id="b")])
    template: dict[str, Any] = {
        "id": "my-tpl",
        "name": "Mine",
        "category": "puzzle",
        "parameters": {"n": {"type": "int", "default": 2, "min": 1, "max": 9}},
        "structure": {
            "title": "Solve {{n}}",
            "objectives": [
                {"id": "o", "description": "d", "kind": "solve", "target": "t", "quantity": "{{n}}"}
            ],
        },
    }
    tpl = write(tmp_path / "tpl.json", template)
    code, out, _ = ae("validate", str(many), str(tpl))
    assert code == 0, out
    template["structure"]["title"] = "Solve {{m}}"
    write(tpl, template)
    bad_list = write(tmp_path / "badlist.json", [encounter_dict(id="a"), {"title": "x"}])
    code, out, _ = ae("validate", str(tpl), str(bad_list))
    assert code == 1
    assert "{{m}} has no declared parameter" in out
    assert "[1].category: required" in out


def test_schema_prints_json_schema() -> None:
    code, out, _ = ae("schema", "encounter")
    assert code == 0
    schema = json.loads(out)
    assert schema["title"] == "EncounterSpec" and "objectives" in schema["properties"]
    code, _, err = ae("schema", "nonsense")
    assert code == 1 and "unknown schema 'nonsense'" in err


def test_generate_by_category_to_stdout_and_file(tmp_path: Path) -> None:
    code, out, _ = ae("generate", "--category", "puzzle", "--seed", "5", "--level", "30")
    assert code == 0
    spec = json.loads(out)
    assert spec["category"] == "puzzle"
    target = tmp_path / "out.json"
    code, _, err = ae(
        "generate",
        "-c",
        "puzzle",
        "--seed",
        "5",
        "--level",
        "30",
        "-o",
        str(target),
        "--count",
        "3",
    )
    assert code == 0 and "wrote 3 encounter(s)" in err
    written = json.loads(target.read_text())
    assert len(written) == 3 and written[0] == spec  # repeatable by seed
    code, out, _ = ae("validate", str(target))
    assert code == 0


def test_generate_from_template_and_param_errors() -> None:
    code, out, _ = ae(
        "generate", "-t", "combat-ambush", "-p", "enemy_type=goblins", "-p", "enemy_count=7"
    )
    assert code == 0
    spec = json.loads(out)
    assert spec["objectives"][0]["quantity"] == 7
    code, _, err = ae(
        "generate", "-t", "combat-ambush", "-p", "enemy_count=700", "-p", "colour=red"
    )
    assert code == 1
    assert "enemy_count: must be <= 50" in err
    assert "colour: unknown parameter" in err
    assert "enemy_type: required" in err
    code, _, err = ae("generate", "-t", "combat-ambush", "-p", "oops")
    assert code == 1 and "must look like name=value" in err
    code, _, err = ae("generate")
    assert code == 1 and "--template" in err


def test_templates_list_and_show() -> None:
    code, out, _ = ae("templates", "list")
    assert code == 0 and "combat-ambush" in out
    code, out, _ = ae("templates", "list", "--category", "stealth")
    assert code == 0 and "combat-ambush" not in out and "stealth" in out
    code, out, _ = ae("templates", "show", "combat-ambush")
    assert code == 0 and "enemy_count" in out and "1..50" in out
    code, _, err = ae("templates", "show", "nope")
    assert code == 1 and "no template with id 'nope'" in err


def test_test_command_plays_the_seed_flow(tmp_path: Path) -> None:
    path = write(tmp_path / "enc.json", encounter_dict())
    code, out, _ = ae("test", str(path))
    assert code == 0
    assert "Session created: sess_" in out
    assert "Objectives: 2" in out
    assert "✓ Completed: Defeat the bandits" in out
    assert "✓ Test completed successfully" in out
    bad = write(tmp_path / "bad.json", {"title": 5})
    code, _, err = ae("test", str(bad))
    assert code == 1 and "category: required" in err


def test_play_auto_and_sessions_are_kept(tmp_path: Path) -> None:
    code, out, _ = ae(
        "--data-dir",
        str(tmp_path),
        "play",
        "--auto",
        "-c",
        "social",
        "--seed",
        "11",
        "--player",
        "zoe",
    )
    assert code == 0, out
    assert "completed" in out
    code, out, _ = ae("--data-dir", str(tmp_path), "sessions", "list", "--player", "zoe")
    assert code == 0 and "completed" in out
    sid = next(w for w in out.split() if w.startswith("sess_"))
    code, out, _ = ae("--data-dir", str(tmp_path), "sessions", "show", sid, "--json")
    assert json.loads(out)["status"] == "completed"
    code, _, err = ae("--data-dir", str(tmp_path), "sessions", "show", "sess_missing")
    assert code == 1 and "no session with id 'sess_missing'" in err


def test_play_interactive_from_a_file(tmp_path: Path) -> None:
    path = write(tmp_path / "enc.json", encounter_dict())
    # talk to Marta, choose, fight 3 bandits -> all required objectives done; d completes
    keys = "\n".join(["t", "Marta", "positive", "c", "flank", "1", "3", "d"]) + "\n"
    code, out, _ = ae("--data-dir", str(tmp_path), "play", "--file", str(path), input=keys)
    assert code == 0, out
    assert "Took you long enough." in out
    assert "All required objectives done! d completes the session" in out
    assert "completed" in out


def test_play_waits_for_optional_objectives_until_the_player_is_done(tmp_path: Path) -> None:
    path = write(tmp_path / "enc.json", encounter_dict())
    # the 3 bandits (required), then the optional toll box: only then is it complete
    keys = "\n".join(["1", "3", "2", "1"]) + "\n"
    code, out, _ = ae("--data-dir", str(tmp_path), "play", "--file", str(path), input=keys)
    assert code == 0, out
    assert "d completes the session; the optional ones are still open" in out
    assert "All objectives done!" in out
    code, shown, _ = ae("--data-dir", str(tmp_path), "sessions", "list", "--json")
    [session] = json.loads(shown)
    assert session["status"] == "completed" and session["objectives"]["obj_2"]["completed"]


def test_play_interactive_abandon(tmp_path: Path) -> None:
    path = write(tmp_path / "enc.json", encounter_dict())
    code, out, _ = ae("--data-dir", str(tmp_path), "play", "-f", str(path), input="zz\na\n")
    assert code == 0
    assert "unknown action" in out and "abandoned" in out


def test_real_entry_point_has_no_traceback_on_errors(tmp_path: Path) -> None:
    ae_bin = Path(sys.executable).with_name("ae")
    env = {**os.environ, "AE_DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [str(ae_bin), "generate", "-t", "nope"], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 1
    assert "no template with id 'nope'" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args", [["--help"], ["templates", "--help"], ["generate", "--help"]])
def test_help(args: list[str]) -> None:
    code, out, _ = ae(*args)
    assert code == 0 and "Usage" in out


def test_version_prints_the_package_version() -> None:
    with open(Path(__file__).resolve().parents[3] / "pyproject.toml", "rb") as f:
        expected = tomllib.load(f)["project"]["version"]
    ae_bin = Path(sys.executable).with_name("ae")
    done = subprocess.run([str(ae_bin), "--version"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"ai-encounters {expected}\n", "")
    assert encounters.__version__ == expected
