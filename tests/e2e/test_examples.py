"""Every example in examples/ runs (or, for the game-server quickstarts, every setting
it shows is one the daemon, the addon or the bridge really reads)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from encounters_bridge.config import load_bridge_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run_example(name: str, tmp_path: Path) -> str:
    env = {**os.environ, "AE_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], env=env, capture_output=True,
                          text=True, timeout=120, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_python_game_loop(tmp_path: Path) -> None:
    out = run_example("python_game.py", tmp_path)
    assert "round 1:" in out and "round 2:" in out
    assert out.count("session completed") == 2
    assert "alice: 2 of 2 sessions completed" in out
    # the second round adapted to a perfect first one: harder than the first
    first, second = (float(d) for d in re.findall(r"at difficulty ([0-9.]+)", out))
    assert second > first


def test_campaign(tmp_path: Path) -> None:
    out = run_example("campaign.py", tmp_path)
    assert '"merciful": true' in out and '"outcome": "completed"' in out
    assert out.rstrip().endswith("campaign completed")


@pytest.mark.parametrize("world", ["gmod", "minecraft"])
def test_daemon_configs_load(world: str) -> None:
    cfg = load_bridge_config(EXAMPLES / world / "bridge.toml", env={}, flags={})
    assert (cfg.host, cfg.port, cfg.http_port) == ("127.0.0.1", 3002, 3001)


def test_gmod_convars_are_the_addons() -> None:
    addon = "\n".join(p.read_text() for p in (ROOT / "lua_addon").rglob("*.lua"))
    created = set(re.findall(r'CreateConVar\("([a-z_]+)"', addon))
    shown = {line.split()[0] for line in (EXAMPLES / "gmod/server.cfg").read_text().splitlines()
             if line and not line.startswith("//")}  # fmt: skip
    assert shown and shown <= created
    assert "ws://127.0.0.1:3002/ws" in (EXAMPLES / "gmod/server.cfg").read_text()


def test_minecraft_environment_is_the_bridges() -> None:
    node = shutil.which("node")
    assert node, "Node.js 20+ is needed (see the README)"
    usage = subprocess.run([node, "minecraft_plugin_bridge/src/cli.js", "--help"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    known = set(re.findall(r"env ([A-Z_]+)", usage.stdout + usage.stderr))
    shown = {line.split("=")[0] for line in (EXAMPLES / "minecraft/bridge.env").read_text()
             .splitlines() if line and not line.startswith("#")}  # fmt: skip
    assert shown and shown <= known, shown - known


def test_python_game_walks_with_a_companion(tmp_path: Path) -> None:
    out = run_example("python_game.py", tmp_path)
    assert "Rook -> follow" in out
    assert "Rook remembers 2 exchange(s) with Alice" in out


def test_modder_script_in_process_and_as_a_daemon_script(tmp_path: Path) -> None:
    from encounters.companion import CompanionScript, load_script

    out = run_example("companion_script.py", tmp_path)
    assert "Pip says: Welcome, Ana!" in out
    assert "['chat', 'follow']" in out
    masked = [line for line in out.splitlines() if line.strip().startswith("Pip says: this")]
    assert masked and all("shit" not in line for line in masked)
    assert isinstance(load_script(EXAMPLES / "companion_script.py"), CompanionScript)
