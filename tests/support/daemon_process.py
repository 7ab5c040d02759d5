"""A real daemon process for the bridge tests: ``ae bridge serve`` on free loopback
ports over a data folder (and its SQLite store, or a PostgreSQL one), started, killed
(SIGKILL) and stopped (SIGTERM) by process id, with the control-API keys it needs made in
its store beforehand."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx

from encounters.settings import load_settings
from encounters.storage.factory import store_from_settings
from encounters_bridge.keys import create_api_key, create_world_key
from encounters_bridge.store import open_bridge_store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class DaemonProcess:
    """``ae bridge serve`` in a subprocess; the same ports on every start, so adapters
    and HTTP clients find it again after a restart. ``store``: its ``AE_STORE`` (a
    ``postgresql://`` URL, say); by default the SQLite file in ``data``."""

    data: Path
    store: str = "sqlite"
    heartbeat: float = 0.5
    port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    #: more environment variables for the process (``AE_REDIS``, say)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        self.log = self.data / "daemon.log"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    async def keys(
        self, world: str = "minecraft", servers: list[str] | None = None
    ) -> tuple[str, str, str]:
        """``(admin API key, creator API key, world key)``, made in the store."""
        settings = load_settings(data_dir=self.data, store=self.store)
        async with store_from_settings(settings) as store:
            records = await open_bridge_store(store)
            _, admin = await create_api_key(records, "ops", "admin")
            _, creator = await create_api_key(records, "maker", "creator")
            _, world_key = await create_world_key(records, "game", world, servers)  # type: ignore[arg-type]
        return admin, creator, world_key

    async def start(
        self, *extra: str, preexec: Callable[[], object] | None = None, timeout: float = 30.0
    ) -> None:
        """Start and wait until the control API answers (``timeout`` seconds at most;
        then the error ends with the daemon's log)."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        env = {**os.environ, "AE_DATA_DIR": str(self.data), "AE_STORE": self.store, **self.env}
        env["PYTHONUNBUFFERED"] = "1"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "ae"), "bridge", "serve",
                 "--port", str(self.port), "--http-port", str(self.http_port),
                 "--heartbeat", str(self.heartbeat), *extra],
                env=env, stdout=log, stderr=log, preexec_fn=preexec,
            )  # fmt: skip
        async with httpx.AsyncClient() as client:
            with anyio.move_on_after(timeout) as waited:
                while True:
                    assert self.proc.poll() is None, self.log.read_text()[-3000:]
                    try:
                        if (await client.get(f"{self.http_url}/health")).status_code == 200:
                            return
                    except httpx.HTTPError:
                        pass
                    await anyio.sleep(0.05)
        if waited.cancelled_caught:
            raise TimeoutError(f"the daemon did not answer within {timeout:.0f} s:\n"
                               + self.log.read_text(errors="replace")[-3000:])  # fmt: skip

    def kill(self) -> None:
        """SIGKILL: no chance to save or close anything."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def terminate(self, timeout: float = 30.0) -> tuple[int, float]:
        """SIGTERM and wait; ``(exit code, seconds it took)``."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        return code, time.monotonic() - started

    def stop(self) -> None:
        """Whatever state it is in, it is gone afterwards."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")
