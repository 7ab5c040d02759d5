"""What a core install (``pip install ai-encounters``) gets: no web server, no LLM
client, and an SDK that never imports the bridge."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path

SDK = Path(__file__).parents[2] / "sdk" / "encounters"
#: What the [bridge], [llm] and [postgres] extras install (and starlette, which fastapi
#: brings).
OPTIONAL = (
    "fastapi",
    "uvicorn",
    "websockets",
    "starlette",
    "msgpack",
    "openai",
    "anthropic",
    "ollama",
    "asyncpg",
)

#: Runs in a fresh interpreter where the optional packages cannot be imported, as in a
#: core install; prints what it saw as JSON.
CORE_ONLY = """
import importlib.abc, json, sys
BLOCKED = set(sys.argv[1].split(","))

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Blocker())
from encounters import Settings, SyncEngine
from encounters.errors import ConfigError

with SyncEngine(Settings(store="memory")) as engine:
    spec = engine.generate(category="puzzle", player="alice", seed=1)
    session = engine.start_session("alice", spec)
    for objective in spec.objectives:
        engine.update_objective(session.id, objective.id, completed=True)
    status = engine.complete_session(session.id).status.value
try:
    SyncEngine(Settings(store="memory", llm={"openai_api_key": "sk-test"})).close()
    llm_error = None
except ConfigError as exc:
    llm_error = str(exc)
from encounters.errors import StoreError
try:
    SyncEngine(Settings(store="postgresql://ae@127.0.0.1:5432/ae")).close()
    pg_error = None
except StoreError as exc:
    pg_error = str(exc)
loaded = sorted({m.split(".")[0] for m in sys.modules} & BLOCKED)
print(json.dumps({"status": status, "llm_error": llm_error, "pg_error": pg_error,
                  "loaded": loaded,
                  "bridge": "encounters_bridge" in sys.modules}))
"""


def run_core(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, ",".join(OPTIONAL), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_core_dependencies_hold_no_web_server_or_llm_client() -> None:
    core = [r for r in requires("ai-encounters") or [] if "extra ==" not in r]
    names = {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower() for r in core}
    assert names and not names & set(OPTIONAL)


def test_the_engine_runs_without_the_optional_packages_and_names_the_extra() -> None:
    result = run_core(CORE_ONLY)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["status"] == "completed"
    assert seen["loaded"] == [] and seen["bridge"] is False
    assert "pip install 'ai-encounters[llm]'" in seen["llm_error"]
    assert "openai" in seen["llm_error"] and "\n" not in seen["llm_error"]
    assert "pip install 'ai-encounters[postgres]'" in seen["pg_error"]
    assert "asyncpg" in seen["pg_error"] and "\n" not in seen["pg_error"]


def test_ae_without_the_bridge_extra_says_what_to_install() -> None:
    code = CORE_ONLY.split("from encounters import")[0] + (
        "sys.argv = ['ae', *sys.argv[2:]]\nfrom encounters.cli import main\nmain()\n"
    )
    listing = run_core(code, "--help")
    assert listing.returncode == 0, listing.stderr
    assert "generate" in listing.stdout
    serve = run_core(code, "bridge", "serve", "--port", "3002")
    assert serve.returncode == 1
    line = re.fullmatch(
        r"error: the bridge commands need the '(\w+)' package: "
        r"pip install 'ai-encounters\[bridge\]'\n",
        serve.stderr,
    )
    assert line is not None, serve.stderr
    assert line.group(1) in OPTIONAL


def test_the_sdk_never_imports_the_bridge() -> None:
    offenders = []
    for path in SDK.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            bridge = [n for n in names if n.split(".")[0] == "encounters_bridge"]
            offenders += [f"{path.relative_to(SDK)}: {n}" for n in bridge]
    assert offenders == []
