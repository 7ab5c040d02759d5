"""The deployment files of docs/deploy/ (docs/deployment.md) stay valid: the Compose file
parses and wires three nodes to PostgreSQL, Redis and the proxy; the systemd unit uses
only directives of its sections and starts the daemon; every ``AE_*`` variable they set
is one the daemon reads (a typo would be silently ignored by the daemon); the nginx
config passes WebSocket upgrades with timeouts longer than the heartbeat."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # (no stubs in the lock)

from encounters.settings import Settings
from encounters_bridge.config import BridgeConfig, load_bridge_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "deploy"
NODES = ("node1", "node2", "node3")
TRUSTED = "AE_BRIDGE_TRUSTED_PROXIES"
#: variables the nodes get that are read by others than the daemon's settings
OTHERS = {"PGPASSWORD"}  # asyncpg (libpq's variable)


def known_variable(name: str) -> bool:
    """Whether the daemon reads ``name``: ``AE_BRIDGE_X`` a BridgeConfig field,
    ``AE_X`` (or ``AE_X__Y``) a Settings field."""
    if name in OTHERS:
        return True
    if name.startswith("AE_BRIDGE_"):
        return name.removeprefix("AE_BRIDGE_").lower() in BridgeConfig.model_fields
    if name.startswith("AE_"):
        return name.removeprefix("AE_").split("__")[0].lower() in Settings.model_fields
    return False


def env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", name), f"{path.name}: {line!r}"
            pairs[name] = value
    return pairs


def test_the_checks_know_a_typo() -> None:
    assert known_variable("AE_STORE") and known_variable("AE_BRIDGE_HTTP_PORT")
    assert known_variable("AE_MODERATION__MAX_CHAT_LENGTH")
    assert not known_variable("AE_BRIDGE_HTTPPORT") and not known_variable("AE_REDIS_URL")


def test_compose_runs_three_nodes_on_postgresql_redis_and_a_proxy() -> None:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text("utf-8"))
    services = compose["services"]
    assert set(services) == {*NODES, "postgres", "redis", "proxy"}
    for name in NODES:
        node = services[name]
        build = node["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (
            DEPLOY / "Dockerfile"
        ).resolve()
        env = node["environment"]
        assert env["AE_STORE"].startswith("postgresql://") and "@postgres:5432/" in env["AE_STORE"]
        assert env["AE_REDIS"].startswith("redis://redis:6379")
        assert all(known_variable(k) for k in env), [k for k in env if not known_variable(k)]
        # every node shares the one memory key
        assert env["AE_MEMORY_KEY"].startswith("${AE_MEMORY_KEY")
        assert node["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
        assert node["volumes"] == [f"{name}:/var/lib/ai-encounters"]  # a folder each
    assert services["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "--appendonly" in services["redis"]["command"]  # nothing durable in Redis
    proxy = services["proxy"]
    mounts = [v.split(":")[0] for v in proxy["volumes"]]
    assert all((DEPLOY / m).exists() or m == "./certs" for m in mounts), mounts
    assert "./nginx.conf" in mounts
    assert set(compose["volumes"]) == {*NODES, "postgres"}
    # the nodes trust X-Forwarded-For from the proxy's fixed address, on its network
    address = ipaddress.ip_address(proxy["networks"]["default"]["ipv4_address"])
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert address in ipaddress.ip_network(subnet)
    for name in NODES:
        setting = {TRUSTED: services[name]["environment"][TRUSTED]}
        trusted = load_bridge_config(env=setting).trusted_proxies
        assert [str(n) for n in trusted] == [f"{address}/32"]


def test_the_image_serves_and_checks_health() -> None:
    text = (DEPLOY / "Dockerfile").read_text("utf-8")
    assert 'CMD ["ae", "bridge", "serve"]' in text
    assert "requirements.lock" in text and "/health" in text
    for name in re.findall(r"\b(AE_[A-Z_]+)=", text):
        assert known_variable(name), name


#: the directives the unit may use, per section (systemd.unit, systemd.service,
#: systemd.exec, systemd.kill, systemd.resource-control)
DIRECTIVES = {
    "Unit": {"Description", "Documentation", "Wants", "After", "Requires", "PartOf"},
    "Service": {
        "Type", "User", "Group", "EnvironmentFile", "Environment", "ExecStart", "KillSignal",
        "TimeoutStopSec", "Restart", "RestartSec", "LimitNOFILE", "StateDirectory",
        "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "WorkingDirectory",
    },
    "Install": {"WantedBy"},
}  # fmt: skip


def unit_file(path: Path) -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith(("#", ";")):
            continue
        if m := re.fullmatch(r"\[(\w+)\]", line):
            current = m.group(1)
            sections[current] = []
            continue
        key, sep, value = line.partition("=")
        assert current and sep, f"{path.name}: {line!r} is outside a section or has no '='"
        sections[current].append((key, value))
    return sections


def test_the_systemd_unit_starts_a_node_with_its_settings() -> None:
    unit = DEPLOY / "systemd" / "ae-bridge@.service"
    sections = unit_file(unit)
    assert set(sections) == set(DIRECTIVES)
    for section, pairs in sections.items():
        unknown = [k for k, _ in pairs if k not in DIRECTIVES[section]]
        assert not unknown, f"[{section}] {unknown}"
    service = dict(sections["Service"])
    assert service["ExecStart"].split()[1:] == ["bridge", "serve"]
    assert service["ExecStart"].startswith("/")
    assert service["KillSignal"] == "SIGTERM" and service["Restart"] == "on-failure"
    assert float(service["TimeoutStopSec"]) > 3.0  # above the daemon's shutdown grace
    files = [v for k, v in sections["Service"] if k == "EnvironmentFile"]
    assert files == ["/etc/ai-encounters/ae-bridge.env", "/etc/ai-encounters/%i.env"]
    assert dict(sections["Install"])["WantedBy"] == "multi-user.target"
    shared = env_file(DEPLOY / "systemd" / "ae-bridge.env")
    assert shared["AE_STORE"].startswith("postgresql://") and shared["AE_REDIS"]
    assert load_bridge_config(env=shared).trusted_proxies  # the proxy's address
    for name in NODES:
        own = env_file(DEPLOY / "systemd" / f"{name}.env")
        assert own["AE_DATA_DIR"].endswith(f"/{name}")
        assert not set(own) & set(shared)
        for variable in {**shared, **own}:
            assert known_variable(variable), variable


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_accepts_the_unit(tmp_path: Path) -> None:
    """systemd's own check, with ExecStart pointed at a program that exists here."""
    text = (DEPLOY / "systemd" / "ae-bridge@.service").read_text("utf-8")
    copy = tmp_path / "ae-bridge@node1.service"
    copy.write_text(re.sub(r"(?m)^ExecStart=\S+", f"ExecStart={sys.executable}", text))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(copy)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    problems = [line for line in done.stderr.splitlines() if str(copy.name) in line]
    assert done.returncode == 0 and not problems, done.stderr


def test_nginx_passes_websockets_with_timeouts_above_the_heartbeat() -> None:
    text = (DEPLOY / "nginx.conf").read_text("utf-8")
    defaults = BridgeConfig()
    for upstream, port in (("ae_links", defaults.port), ("ae_api", defaults.http_port)):
        block = re.search(rf"upstream {upstream} \{{(.*?)\}}", text, re.S)
        assert block, upstream
        assert re.findall(r"server (node\d):(\d+)", block.group(1)) == [
            (n, str(port)) for n in NODES
        ]
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_set_header Connection $connection_upgrade;" in text
    assert "proxy_http_version 1.1;" in text
    for timeout in ("proxy_read_timeout", "proxy_send_timeout"):
        (seconds,) = re.findall(rf"{timeout} (\d+)s;", text)
        assert int(seconds) > 2 * defaults.heartbeat
    assert re.search(r"location = /ws \{\s*proxy_pass http://ae_links;", text)
    # the marketplace (one node's file) and the web world (one node's passes and rooms)
    one = re.search(r"upstream ae_one_node \{(.*?)\}", text, re.S)
    assert one and re.findall(r"server (\S+);", one.group(1)) == [f"node1:{defaults.http_port}"]
    for path in ("/market/", "/play/", "/web-world/"):
        assert re.search(rf"location {path} \{{\s*proxy_pass http://ae_one_node;", text), path
    assert "ssl_certificate " in text and "return 301 https://" in text


def test_the_guide_names_every_file_and_the_readme_links_it() -> None:
    guide = (ROOT / "docs" / "deployment.md").read_text("utf-8")
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            assert f"{path.name}" in guide, path.name
    assert "docs/deployment.md" in (ROOT / "README.md").read_text("utf-8")
