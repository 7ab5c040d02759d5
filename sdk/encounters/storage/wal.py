"""Switching a SQLite file to its write-ahead log (WAL), safely when several openers race.

``PRAGMA journal_mode=WAL`` on a file still in rollback mode needs the file's exclusive
lock. Two connections switching one fresh file at once each hold a shared lock and wait
for the other's: SQLite breaks that deadlock by answering "database is locked" at once,
without waiting out its busy timeout. Nodes of one deployment starting together on a new
data folder hit exactly that, so :func:`use_wal` retries for a bounded time.

Limits: it blocks the calling thread (up to ``wait`` seconds), so an event loop calls it
in a worker thread; WAL is a property of the file, kept once set, which is why the
connections opened after it do not switch it again. A filesystem without shared memory
(some network mounts) cannot hold a WAL file: SQLite's error is raised as it is.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

#: how long the openers of one file may take to agree on who switches it
WAL_WAIT = 10.0


def use_wal(conn: sqlite3.Connection, wait: float = WAL_WAIT) -> None:
    """Put ``conn``'s file in WAL mode, retrying while another opener holds it."""
    deadline = time.monotonic() + wait
    pause = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)  # the other opener finishes its switch meanwhile
        pause = min(pause * 2, 0.1)


def use_wal_file(path: Path) -> None:
    """:func:`use_wal` on the file at ``path`` (created when missing)."""
    conn = sqlite3.connect(path, timeout=WAL_WAIT)
    try:
        use_wal(conn)
    finally:
        conn.close()
