"""Which stores the daemon runs on: its records beside the SDK's in SQLite (the
default) or in PostgreSQL, where ``ae worlds add`` and the daemon share them."""

from __future__ import annotations

from pathlib import Path

import anyio
from typer.testing import CliRunner

from encounters.settings import load_settings
from encounters_bridge.adapter import AdapterClient
from encounters_bridge.cli import app
from encounters_bridge.config import BridgeConfig
from encounters_bridge.daemon import Daemon
from encounters_bridge.store import LinkRecord
from tests.support.daemon_process import free_port
from tests.support.services import POSTGRES_URL, postgres_schema

LOCAL = BridgeConfig(host="127.0.0.1", port=0, http_port=0, heartbeat=0.5)
runner = CliRunner()


def test_serve_on_an_unreachable_postgresql_is_one_line_without_the_password(
    tmp_path: Path,
) -> None:
    url = f"postgresql://ae:s3cret-pw@127.0.0.1:{free_port()}/ae"  # nothing listens there
    result = runner.invoke(
        app,
        ["--data-dir", str(tmp_path), "bridge", "serve", "--port", str(free_port()),
         "--http-port", str(free_port())],
        env={"AE_STORE": url, "COLUMNS": "400"},
    )  # fmt: skip
    assert result.exit_code != 0 and not isinstance(result.exception, (OSError, AssertionError))
    message = result.stderr.strip()
    assert "cannot use the PostgreSQL store" in message and "AE_STORE" in message, message
    assert "\n" not in message and "s3cret-pw" not in result.output + result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_a_key_made_by_the_cli_links_a_game_server_to_a_daemon_on_postgresql(
    tmp_path: Path,
) -> None:
    with postgres_schema() as schema:
        url = f"{POSTGRES_URL}?schema={schema}"
        result = runner.invoke(
            app,
            ["--data-dir", str(tmp_path), "worlds", "add", "box", "--world", "gmod",
             "--server", "srv-pg"],
            env={"AE_STORE": url, "COLUMNS": "400"},
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        (key,) = [w for w in result.stdout.split() if w.startswith("ae_wk_")]
        settings = load_settings(data_dir=tmp_path, store=url)

        async def serve() -> LinkRecord | None:
            async with Daemon.open(settings, LOCAL) as daemon:
                game = AdapterClient(daemon.ws_url, world="gmod", server_id="srv-pg", key=key,
                                     capabilities=["chat"], max_backoff=0.05)  # fmt: skip
                async with anyio.create_task_group() as tg:
                    tg.start_soon(game.run)
                    with anyio.fail_after(20):
                        await game.ready.wait()
                    await game.stop()
                    tg.cancel_scope.cancel()
                return await daemon.edge.store.find_link("gmod", "srv-pg")

        link = anyio.run(serve)
        assert link is not None and link.server_id == "srv-pg"
        # nothing of it went into a SQLite file in the data folder
        assert not settings.database_path.exists()


def test_serve_with_redis_on_a_sqlite_store_is_refused_in_one_line(tmp_path: Path) -> None:
    """Several nodes on one SQLite file could each hold a live link for one game
    server (SQLite cannot fence another process's writes), so ``AE_REDIS`` needs
    PostgreSQL; the daemon says so before it listens, and leaves no link behind."""
    port = free_port()
    result = runner.invoke(
        app,
        ["--data-dir", str(tmp_path), "bridge", "serve", "--port", str(port),
         "--http-port", str(free_port())],
        env={"AE_STORE": "sqlite", "AE_REDIS": "redis://127.0.0.1:6379/0", "COLUMNS": "400"},
    )  # fmt: skip
    assert result.exit_code != 0 and not isinstance(result.exception, (OSError, AssertionError))
    message = result.stderr.strip()
    assert "AE_REDIS" in message and "AE_STORE=postgresql://" in message, message
    assert "\n" not in message and "Traceback" not in result.output + result.stderr
