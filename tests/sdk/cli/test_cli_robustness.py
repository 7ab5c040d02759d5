"""The ``ae`` command with hostile files, conflicting options, interrupted play,
a damaged store and bad settings: one clear line and exit status 1, never a
traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from encounters import SyncEngine
from encounters.cli import app
from encounters.models import SessionStatus
from tests.conftest import encounter_dict

runner = CliRunner()
AE = str(Path(sys.executable).with_name("ae"))


def ae(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def real_ae(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed ``ae`` script, with only the ``AE_*`` variables given."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AE_")}
    return subprocess.run(
        [AE, *args], capture_output=True, text=True, env={**base, **(env or {})}, timeout=60
    )


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def report_of(out: str, path: Path) -> list[str]:
    """The lines ``ae validate`` printed for one file: its mark line and its errors."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.endswith(f" {path}") and line[:1] in "✓✗":
            j = i + 1
            while j < len(lines) and lines[j].startswith("    "):
                j += 1
            return lines[i:j]
    raise AssertionError(f"{path} not reported in:\n{out}")


def session_ids(text: str) -> list[str]:
    return re.findall(r"sess_[0-9a-f]+", text)


# -- 13. ae validate with hostile files --------------------------------------------------


@pytest.fixture
def hostile(tmp_path: Path) -> dict[str, Path]:
    files = {
        "empty": tmp_path / "empty.json",
        "binary": tmp_path / "binary.json",
        "deep": tmp_path / "deep.json",
        "bignum": tmp_path / "bignum.json",
        "bom": tmp_path / "bom.json",
        "good": tmp_path / "good.json",
    }
    files["empty"].write_bytes(b"")
    files["binary"].write_bytes(bytes(range(256)) * 8)
    files["deep"].write_text("[" * 100_000, encoding="utf-8")
    big = encounter_dict()
    files["bignum"].write_text(
        json.dumps(big).replace('"estimated_duration": 10', '"estimated_duration": ' + "7" * 5000),
        encoding="utf-8",
    )
    files["bom"].write_text("\ufeff" + json.dumps(encounter_dict(id="enc_bom")), encoding="utf-8")
    write(files["good"], encounter_dict(id="enc_good"))
    return files


def test_validate_reports_each_hostile_file_in_one_line(hostile: dict[str, Path]) -> None:
    assert hostile["bom"].read_bytes().startswith(b"\xef\xbb\xbf")
    assert len(hostile["bignum"].read_text()) > 5000
    expected = {
        "empty": "malformed JSON at line 1 column 1",
        "binary": "not UTF-8 text",
        "deep": "nested too deeply",
        "bignum": "JSON value out of range",
    }
    for name, words in expected.items():
        code, out, _ = ae("validate", str(hostile[name]))
        assert code == 1, (name, out)
        lines = report_of(out, hostile[name])
        assert lines[0] == f"✗ {hostile[name]}"
        assert len(lines) == 2 and words in lines[1], (name, lines)
    code, out, _ = ae("validate", str(hostile["bom"]))
    assert code == 0, out
    assert report_of(out, hostile["bom"]) == [f"✓ {hostile['bom']}"]


def test_bad_files_do_not_stop_the_good_ones_being_reported(hostile: dict[str, Path]) -> None:
    order = ["empty", "good", "binary", "deep", "bom", "bignum"]
    code, out, _ = ae("validate", *(str(hostile[n]) for n in order))
    assert code == 1
    for name in order:
        mark = "✓" if name in ("good", "bom") else "✗"
        assert report_of(out, hostile[name])[0] == f"{mark} {hostile[name]}"
    assert "2 valid, 4 invalid" in out


def test_validate_through_the_real_binary_has_no_traceback(
    hostile: dict[str, Path], tmp_path: Path
) -> None:
    proc = real_ae(
        "validate", *(str(p) for p in hostile.values()), env={"AE_DATA_DIR": str(tmp_path)}
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert "2 valid, 4 invalid" in proc.stdout
    assert f"✓ {hostile['good']}" in proc.stdout


# -- 14. templates that can never render -------------------------------------------------


def _template(**objective: object) -> dict[str, object]:
    return {
        "id": "never-renders",
        "name": "Broken",
        "category": "combat",
        "parameters": {"foe": {"type": "string", "required": True}},
        "structure": {
            "title": "Fight {{foe}}",
            "objectives": [
                {
                    "id": "o1",
                    "description": "Beat {{foe}}",
                    "kind": "eliminate",
                    "target": "{{foe}}",
                    **objective,
                }
            ],
        },
    }


@pytest.mark.parametrize(
    ("objective", "words"),
    [
        ({"kind": "dance"}, "objectives[0].kind"),
        ({"colour": "red"}, "objectives[0].colour: unknown field"),
        ({"quantity": 0}, "objectives[0].quantity"),
    ],
)
def test_a_template_that_cannot_render_is_invalid(
    tmp_path: Path, objective: dict[str, object], words: str
) -> None:
    path = write(tmp_path / "tpl.json", _template(**objective))
    code, out, _ = ae("validate", str(path))
    assert code == 1
    lines = report_of(out, path)
    assert lines[0] == f"✗ {path}"
    assert any("does not render" in line and words in line for line in lines[1:]), lines
    ok = write(tmp_path / "ok.json", _template())
    code, out, _ = ae("validate", str(ok))
    assert code == 0, out


# -- 15. conflicting options ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["generate", "-t", "combat-ambush", "-p", "enemy_type=a", "-p", "enemy_type=b"], "twice"),
        (["generate", "-t", "combat-ambush", "-p", "enemy_type=x", "--seed", "3"], "--seed"),
        (["generate", "-c", "combat", "-p", "x=1"], "--param only applies with --template"),
        (["generate", "-t", "combat-ambush", "-c", "combat"], "not both"),
        (["play", "-t", "combat-ambush", "-c", "puzzle"], "only one of"),
        (["play", "-f", "x.json", "--session", "sess_1"], "only one of"),
    ],
)
def test_conflicting_options_exit_1_with_a_reason(
    tmp_path: Path, args: list[str], words: str
) -> None:
    code, out, err = ae("--data-dir", str(tmp_path), *args)
    assert code == 1
    assert words in err, err
    assert out == ""
    assert not (tmp_path / "encounters.db").exists()  # refused before the store is opened


def test_a_repeated_param_names_the_parameter(tmp_path: Path) -> None:
    code, _, err = ae(
        "--data-dir",
        str(tmp_path),
        "generate",
        "-t",
        "combat-ambush",
        "-p",
        "enemy_type=a",
        "-p",
        "enemy_type=b",
    )
    assert code == 1 and "--param enemy_type is given twice" in err


# -- 16. list files in ae test and ae play ---------------------------------------------------


@pytest.fixture
def three(tmp_path: Path) -> Path:
    titles = ["Alpha Bridge", "Beta Bridge", "Gamma Bridge"]
    return write(
        tmp_path / "three.json",
        [encounter_dict(id=f"enc_{i}", title=t) for i, t in enumerate(titles)],
    )


def test_test_command_plays_every_encounter_of_a_list(three: Path, tmp_path: Path) -> None:
    code, out, _ = ae("--data-dir", str(tmp_path / "data"), "test", str(three))
    assert code == 0, out
    assert out.count("Session created: sess_") == 3
    for title in ("Alpha Bridge", "Beta Bridge", "Gamma Bridge"):
        assert f"Starting test session for {title!r}" in out
    assert "Test completed successfully (3 encounter(s))" in out
    assert not (tmp_path / "data" / "encounters.db").exists()  # ae test stores nothing


def test_play_index_past_the_end_says_how_many_the_file_holds(three: Path, tmp_path: Path) -> None:
    code, _, err = ae(
        "--data-dir", str(tmp_path), "play", "-f", str(three), "--index", "5", "--auto"
    )
    assert code == 1
    assert "holds 3 encounter(s)" in err and "--index 5" in err
    with SyncEngine(data_dir=tmp_path) as engine:
        assert engine.list_sessions() == []


def test_play_index_picks_that_encounter(three: Path, tmp_path: Path) -> None:
    code, out, _ = ae(
        "--data-dir", str(tmp_path), "play", "-f", str(three), "--index", "1", "--auto"
    )
    assert code == 0, out
    assert "Beta Bridge" in out and "Alpha Bridge" not in out
    with SyncEngine(data_dir=tmp_path) as engine:
        [session] = engine.list_sessions()
        assert session.encounter.id == "enc_1"
        assert session.status is SessionStatus.COMPLETED


# -- 17. interactive play: quit, resume, end of input, abandon ---------------------------------


def test_quit_then_resume_completes_the_same_session(tmp_path: Path) -> None:
    path = write(tmp_path / "enc.json", encounter_dict())
    data = ["--data-dir", str(tmp_path / "data")]
    code, out, _ = ae(*data, "play", "-f", str(path), input="c\nflank\nq\n")
    assert code == 0, out
    hint = re.search(r"ae play --session (sess_[0-9a-f]+)", out)
    assert hint, out
    sid = hint.group(1)
    with SyncEngine(data_dir=tmp_path / "data") as engine:
        kept = engine.get_session(sid)
        assert kept.status is SessionStatus.ACTIVE
        assert [c.selected_option for c in kept.choices_made] == ["flank"]

    code, out, _ = ae(*data, "play", "--session", sid, input="1\n3\nd\n")
    assert code == 0, out
    assert "All required objectives done!" in out
    with SyncEngine(data_dir=tmp_path / "data") as engine:
        done = engine.get_session(sid)
        assert done.status is SessionStatus.COMPLETED
        assert done.objectives["obj_1"].progress == 3
        assert len(done.choices_made) == 1  # the earlier choice was kept
        assert len(engine.list_sessions()) == 1  # resumed, not restarted

    code, _, err = ae(*data, "play", "--session", sid)
    assert code == 1 and "completed" in err and "cannot be resumed" in err


def test_end_of_input_is_quit_and_the_session_can_then_be_abandoned(tmp_path: Path) -> None:
    path = write(tmp_path / "enc.json", encounter_dict())
    data = ["--data-dir", str(tmp_path / "data")]
    code, out, _ = ae(*data, "play", "-f", str(path), input="")
    assert code == 0, out
    [sid] = set(session_ids(out))
    assert f"ae play --session {sid}" in out
    code, out, _ = ae(*data, "sessions", "list", "--status", "active")
    assert code == 0 and sid in out

    code, out, _ = ae(*data, "sessions", "abandon", sid, "--reason", "went to bed")
    assert code == 0 and f"session {sid} is abandoned" in out
    with SyncEngine(data_dir=tmp_path / "data") as engine:
        gone = engine.get_session(sid)
        assert gone.status is SessionStatus.ABANDONED and gone.failure_reason == "went to bed"
    code, _, err = ae(*data, "play", "--session", sid)
    assert code == 1 and "abandoned" in err
    code, _, err = ae(*data, "sessions", "abandon", sid)
    assert code == 1 and "is abandoned" in err


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param("1\n", id="how-many"),
        pytest.param("t\n", id="talk-to"),
        pytest.param("t\nMarta\n", id="how-did-it-go"),
        pytest.param("c\n", id="choice"),
    ],
)
def test_end_of_input_inside_a_prompt_is_quit_too(tmp_path: Path, keys: str) -> None:
    path = write(tmp_path / "enc.json", encounter_dict())
    data = ["--data-dir", str(tmp_path / "data")]
    code, out, err = ae(*data, "play", "-f", str(path), input=keys)
    assert code == 0, err
    assert "ae play --session sess_" in out
    with SyncEngine(data_dir=tmp_path / "data") as engine:
        [session] = engine.list_sessions()
        assert session.status is SessionStatus.ACTIVE
        assert session.choices_made == [] and session.npc_interactions == []


# -- 18. sessions show ----------------------------------------------------------------------


def test_sessions_show_prints_progress_and_choices(tmp_path: Path) -> None:
    with SyncEngine(data_dir=tmp_path) as engine:
        spec = engine.save_encounter(encounter_dict())
        sid = engine.start_session("alice", spec).id
        engine.update_objective(sid, "obj_1", progress=3)
        engine.update_objective(sid, "obj_2", progress=0)
        engine.record_choice(sid, "Spare the leader?", "spare", available_options=["spare", "kill"])
        engine.record_npc_interaction(sid, "npc_1", dialogue=["Thanks."], outcome="positive")
    code, out, _ = ae("--data-dir", str(tmp_path), "sessions", "show", sid)
    assert code == 0, out
    assert sid in out
    assert "3/3" in out and "0/1" in out
    assert "Spare the leader? → spare" in out
    assert "npc_1" in out and "Thanks." in out


# -- 19. a damaged store ---------------------------------------------------------------------


def test_a_damaged_store_is_one_error_naming_the_file(tmp_path: Path) -> None:
    db = tmp_path / "encounters.db"
    garbage = b"\x00garbage, not a database\xff" * 200
    db.write_bytes(garbage)
    proc = real_ae("--data-dir", str(tmp_path), "sessions", "list")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert str(db) in proc.stderr
    assert proc.stdout == ""
    assert db.read_bytes() == garbage

    code, _, err = ae("--data-dir", str(tmp_path), "sessions", "show", "sess_x")
    assert code == 1 and str(db) in err
    code, out, _ = ae("--data-dir", str(tmp_path), "templates", "list")
    assert code == 0 and "combat-ambush" in out  # does not need the store
    code, out, _ = ae("--data-dir", str(tmp_path), "generate", "-c", "combat", "--no-save")
    assert code == 1  # the store is opened even when nothing is saved
    assert db.read_bytes() == garbage


# -- 20. settings from the environment --------------------------------------------------------


def test_json_logs_from_the_environment_keep_stdout_clean(tmp_path: Path) -> None:
    proc = real_ae(
        "generate",
        "-c",
        "combat",
        "--seed",
        "2",
        env={
            "AE_DATA_DIR": str(tmp_path / "data"),
            "AE_LOG_LEVEL": "info",
            "AE_LOG_FORMAT": "json",
        },
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["category"] == "combat"
    logs = [json.loads(line) for line in proc.stderr.splitlines() if line.strip()]
    migrated = [x for x in logs if x.get("event") == "store.migrated"]
    assert migrated and migrated[0]["level"] == "info"


def test_a_bad_setting_names_the_variable_without_a_traceback(tmp_path: Path) -> None:
    proc = real_ae(
        "generate", "-c", "combat", env={"AE_DATA_DIR": str(tmp_path), "AE_STORE": "bogus"}
    )
    assert proc.returncode == 1
    assert "AE_STORE" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert not (tmp_path / "encounters.db").exists()


def test_settings_errors_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AE_TEMPLATE_DIRS", "notjson")
    code, _, err = ae("templates", "list")
    assert code == 1 and "AE_TEMPLATE_DIRS" in err
    monkeypatch.delenv("AE_TEMPLATE_DIRS")
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x", encoding="utf-8")
    code, _, err = ae("--data-dir", str(not_a_folder), "sessions", "list")
    assert code == 1 and str(not_a_folder) in err and "--data-dir" in err
    assert not_a_folder.read_text(encoding="utf-8") == "x"
