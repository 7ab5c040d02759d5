"""Logs are quiet by default and structured when asked for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

AE = str(Path(sys.executable).with_name("ae"))


def run_ae(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AE_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        [AE, *args], capture_output=True, text=True, env=env, timeout=60, check=True
    )


def test_quiet_by_default(tmp_path: Path) -> None:
    proc = run_ae(tmp_path, "generate", "-c", "combat", "--seed", "1")
    assert proc.stderr == ""
    json.loads(proc.stdout)  # stdout is clean JSON


def test_json_logs_on_stderr_when_configured(tmp_path: Path) -> None:
    proc = run_ae(tmp_path, "--log-format", "json", "-v", "generate", "-c", "combat")
    json.loads(proc.stdout)
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.strip()]
    migrated = [x for x in lines if x["event"] == "store.migrated"]
    assert migrated and migrated[0]["level"] == "info" and "timestamp" in migrated[0]
