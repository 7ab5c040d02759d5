"""A process killed mid-write loses nothing it was told was saved."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio

from encounters.storage import SQLiteStore

WRITER = textwrap.dedent(
    """
    import sys, anyio
    from encounters.generation import ProceduralGenerator
    from encounters.models import Category, Session
    from encounters.storage import SQLiteStore

    async def main(path):
        spec = ProceduralGenerator().generate(Category.COMBAT, 0.5, seed=1)
        async with SQLiteStore(path) as store:
            i = 0
            while True:
                s = Session.start(f"p{i % 5}", spec)
                await store.save_session(s)
                print(s.id, flush=True)   # only after the commit returned
                i += 1

    anyio.run(main, sys.argv[1])
    """
)


def test_sigkill_mid_write_loses_no_acknowledged_session(tmp_path: Path) -> None:
    path = tmp_path / "encounters.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    acked: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            acked.append(line.strip())
            if len(acked) >= 300:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert len(acked) >= 300

    async def check() -> set[str]:
        async with SQLiteStore(path) as store:
            return {s.id for s in await store.list_sessions(limit=100_000)}

    kept = anyio.run(check)
    assert set(acked) <= kept
