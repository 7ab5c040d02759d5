"""``ae bridge serve`` settings: defaults, a TOML file, ``AE_BRIDGE_*``, then flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from encounters.errors import ConfigError
from encounters_bridge.cli import app
from encounters_bridge.config import BridgeConfig, load_bridge_config


def write(tmp_path: Path, text: str, name: str = "bridge.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_env_or_flags() -> None:
    assert load_bridge_config() == BridgeConfig()
    assert (BridgeConfig().port, BridgeConfig().http_port) == (3002, 3001)


def test_layers_file_then_env_then_flags(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[bridge]\nhost = "0.0.0.0"\nport = 4002\nhttp_port = 4001\nheartbeat = 5\n'
        "token_ttl = 600\n",
    )
    env = {"AE_BRIDGE_PORT": "5002", "AE_BRIDGE_HEARTBEAT": "7.5"}
    cfg = load_bridge_config(path, env=env, flags={"heartbeat": 2.0, "token_ttl": None})
    assert cfg.host == "0.0.0.0"  # file
    assert cfg.http_port == 4001  # file
    assert cfg.port == 5002  # env beats file
    assert cfg.heartbeat == 2.0  # flag beats env
    assert cfg.token_ttl == 600  # a None flag is "not given"


def test_file_named_by_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[bridge]\nport = 4444\n")
    assert load_bridge_config(env={"AE_BRIDGE_CONFIG": str(path)}).port == 4444


def test_every_bad_value_is_named_with_its_source(tmp_path: Path) -> None:
    path = write(tmp_path, '[bridge]\nport = 70000\nheartbeat = "often"\n')
    with pytest.raises(ConfigError) as info:
        load_bridge_config(path, env={"AE_BRIDGE_HTTP_PORT": "web"}, flags={"token_ttl": -1})
    message = str(info.value)
    assert f"{path}: [bridge] port: Input should be less than or equal to 65535" in message
    assert f"{path}: [bridge] heartbeat:" in message
    assert "AE_BRIDGE_HTTP_PORT:" in message and "'web'" in message
    assert "--token-ttl: Input should be greater than 0" in message


def test_unknown_keys_and_tables_are_refused(tmp_path: Path) -> None:
    typo = write(tmp_path, "[bridge]\nprot = 4002\n")
    with pytest.raises(ConfigError, match=r"unknown key \[bridge\] prot; known keys: host"):
        load_bridge_config(typo)
    flat = write(tmp_path, "port = 4002\n", "flat.toml")
    with pytest.raises(ConfigError, match="unknown table or key port; settings go under"):
        load_bridge_config(flat)


def test_unreadable_or_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read the bridge config .*missing\.toml"):
        load_bridge_config(tmp_path / "missing.toml")
    broken = write(tmp_path, "[bridge\nport = 1\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_bridge_config(broken)


def test_serve_refuses_a_bad_config_before_listening(tmp_path: Path) -> None:
    path = write(tmp_path, "[bridge]\nport = -1\n")
    result = CliRunner().invoke(
        app,
        ["--data-dir", str(tmp_path / "data"), "bridge", "serve", "--config", str(path)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 1
    assert f"{path}: [bridge] port: Input should be greater than or equal to 0" in result.stderr
    assert not (tmp_path / "data").exists()  # nothing started, nothing created


def test_unidentified_caps_come_from_the_environment_and_reach_the_edge(tmp_path: Path) -> None:
    """Many game servers behind one address (a hosting provider) raise the per-address
    cap; the daemon's edge applies what the config says."""
    import anyio

    from encounters.settings import Settings
    from encounters_bridge.daemon import Daemon

    env = {"AE_BRIDGE_MAX_UNIDENTIFIED_PER_ADDRESS": "500", "AE_BRIDGE_MAX_UNIDENTIFIED": "900"}
    cfg = load_bridge_config(None, env=env, flags={})
    assert (cfg.max_unidentified, cfg.max_unidentified_per_address) == (900, 500)

    async def main() -> tuple[int, int]:
        local = cfg.model_copy(update={"port": 0, "http_port": 0})
        async with Daemon.open(Settings(data_dir=tmp_path), local) as daemon:
            return daemon.edge.max_unidentified, daemon.edge.max_unidentified_per_address

    assert anyio.run(main) == (900, 500)


def test_the_backlog_bound_and_idle_link_ttl_come_from_the_config_and_reach_the_edge(
    tmp_path: Path,
) -> None:
    """``max_unacked_dispatches`` and ``idle_link_ttl`` are daemon settings like the
    others; a bound too small for one signal's batch is refused, naming its source."""
    import anyio

    from encounters.settings import Settings
    from encounters_bridge.daemon import Daemon

    env = {"AE_BRIDGE_MAX_UNACKED_DISPATCHES": "250", "AE_BRIDGE_IDLE_LINK_TTL": "30"}
    cfg = load_bridge_config(None, env=env, flags={})
    assert (cfg.max_unacked_dispatches, cfg.idle_link_ttl) == (250, 30.0)
    assert load_bridge_config(None, env={}, flags={}).max_unacked_dispatches == 10_000
    with pytest.raises(ConfigError, match="AE_BRIDGE_MAX_UNACKED_DISPATCHES: Input should "
                       "be greater than or equal to 100"):  # fmt: skip
        load_bridge_config(None, env={"AE_BRIDGE_MAX_UNACKED_DISPATCHES": "99"}, flags={})

    async def main() -> tuple[int | None, float]:
        local = cfg.model_copy(update={"port": 0, "http_port": 0})
        async with Daemon.open(Settings(data_dir=tmp_path), local) as daemon:
            return daemon.edge.max_unacked_dispatches, daemon.edge.idle_link_ttl

    assert anyio.run(main) == (250, 30.0)
