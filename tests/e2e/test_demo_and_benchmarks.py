"""`make demo`'s job and the benchmark scripts keep working (figures are not asserted:
timing belongs to benchmarks, not tests)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from encounters import Settings
from encounters.cli.demo import run_demo

ROOT = Path(__file__).resolve().parents[2]


def test_demo_generates_plays_and_stores(tmp_path: Path) -> None:
    console = Console(record=True, width=120)
    run_demo(Settings(data_dir=tmp_path), console=console)
    text = console.export_text()
    for category in ("combat", "puzzle", "social", "exploration", "stealth"):
        assert category in text
    assert "status            completed" in text
    assert re.search(r"choices\s+1\s", text) and re.search(r"NPC interactions\s+[1-9]", text)
    assert "5 encounter(s) and 1 session(s) on disk" in text
    assert (tmp_path / "encounters.db").exists()


def test_demo_deploys_a_companion_through_the_daemon(tmp_path: Path) -> None:
    """What `make demo` shows after the SDK part: `ae` (the bridge's CLI) registers it."""
    import encounters_bridge.cli  # noqa: F401 - registers the daemon part
    from encounters.cli import demo

    assert len(demo.EXTRA_PARTS) == 1
    console = Console(record=True, width=160)
    run_demo(Settings(data_dir=tmp_path), console=console)
    text = console.export_text()
    assert "a web-world adapter is linked" in text
    assert re.search(r"persona persona_\w+ submitted \(pending_moderation\), approved", text)
    assert "Pip does: follow" in text
    assert "Pip: this **** tunnel is dark" in text  # the companion's line, moderated
    assert "sanitize  chat: Ugh, this **** tunnel again!" in text  # in the replay
    assert "shit" not in text.split("creator signals")[1].split("\n", 1)[1]
    assert "studio: run `ae bridge serve` and open http://127.0.0.1:3001/studio/" in text


@pytest.mark.parametrize(
    ("script", "expect"),
    [
        ("bench_procedural.py", "encounters/s"),
        ("bench_store.py", "sessions/s"),
        ("bench_moderation.py", "msgs/s"),
        ("bench_providers.py", "overhead"),
        ("bench_bridge.py", "actions/s"),
        ("bench_bridge_attacks.py", "during heartbeat flood"),
        ("bench_memory.py", "retrieval"),
        ("bench_analytics.py", "events/s"),
        ("bench_market.py", "store.search"),
        ("bench_voice.py", "cache hit"),
        ("bench_cluster.py", "actions/s"),
    ],
)
def test_benchmark_scripts_print_figures(script: str, expect: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert expect in proc.stdout and "baseline" in proc.stdout
