"""The SDK's store holds only the SDK's records, as a composition of small protocols:
the bridge daemon's records (keys, links and their outbox, deploy tokens) are the
bridge's, and a service runs on a stand-in for just the protocol it names."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any, Protocol, TypeVar

import anyio
from pydantic import BaseModel

import encounters
from encounters.difficulty import DifficultyManager
from encounters.storage import MemoryStore, SQLiteStore, Store
from encounters.storage import protocols as narrow

SDK = Path(encounters.__file__).parent
M = TypeVar("M", bound=BaseModel)

#: names of the daemon's records and their tables
DAEMON = re.compile(
    r"world_?keys?|api_?keys?|deploy_?tokens?|link_?(record|write|batch|store)|bridge_links"
    r"|(save|get|find|write)_links?$|outbox",
    re.IGNORECASE,
)
#: settings and provider arguments named after an LLM vendor's API key are not records
VENDOR_KEY = re.compile(r"^(openai_|anthropic_)?api_key$")


def defined_names(tree: ast.AST) -> list[str]:
    """Classes, functions, assigned names and table names a module defines."""
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            out.append(node.name)
        elif isinstance(node, ast.Assign):
            out += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.append(node.target.id)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "Table"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            out.append(node.args[0].value)
    return out


def test_the_sdk_defines_none_of_the_daemons_records() -> None:
    offenders = []
    for path in SDK.rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"), str(path))
        for name in defined_names(tree):
            if DAEMON.search(name) and not VENDOR_KEY.match(name):
                offenders.append(f"{path.relative_to(SDK)}: {name}")
    assert offenders == []


def test_the_name_check_sees_the_daemons_records() -> None:
    """The check above finds what it looks for (here, in the bridge's store)."""
    import encounters_bridge.store as bridge_store

    found = set()
    for path in Path(bridge_store.__file__).parent.glob("*.py"):
        found |= {n for n in defined_names(ast.parse(path.read_text("utf-8"))) if DAEMON.search(n)}
    assert {"WorldKey", "ApiKey", "LinkRecord", "LinkWrite", "DeployToken", "bridge_outbox",
            "world_keys", "save_deploy_token", "find_link"} <= found  # fmt: skip


def protocol_methods(cls: type) -> set[str]:
    return {
        name
        for klass in cls.__mro__
        if klass not in (object, Protocol) and klass.__module__ != "typing"
        for name, value in vars(klass).items()
        if inspect.isfunction(value) and not name.startswith("_")
    }


def test_store_is_the_composition_of_the_narrow_protocols() -> None:
    parts = [narrow.EncounterStore, narrow.SessionStore, narrow.AuditLog, narrow.UsageLog,
             narrow.DocumentStore, narrow.EventLog, narrow.DeploymentStore,
             narrow.WorkClaims]  # fmt: skip
    from_parts = set().union(*(protocol_methods(p) for p in parts))
    assert protocol_methods(Store) == from_parts | {"open", "close"}
    assert all(p in Store.__mro__ for p in parts)
    # embedded stores have one process working on them: Store's claims (all granted)
    local = {"save_sessions", *protocol_methods(narrow.WorkClaims)}
    for backend in (SQLiteStore, MemoryStore):
        missing = [m for m in sorted(from_parts) if getattr(backend, m) is getattr(Store, m, None)
                   and m not in local]  # fmt: skip
        assert missing == [], f"{backend.__name__} leaves {missing} to the protocol"


class Documents:
    """A stand-in for a ``DocumentStore`` alone: a dict of JSON text."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], str] = {}

    async def save_document(self, kind: str, key: str, doc: BaseModel) -> None:
        self.rows[(kind, key)] = doc.model_dump_json()

    async def get_document(self, kind: str, key: str, model: type[M]) -> M | None:
        raw = self.rows.get((kind, key))
        return model.model_validate_json(raw) if raw is not None else None

    async def list_documents(self, kind: str, model: type[M], *, prefix: str = "") -> list[M]:
        return [model.model_validate_json(v) for (k, key), v in sorted(self.rows.items())
                if k == kind and key.startswith(prefix)]  # fmt: skip

    async def delete_document(self, kind: str, key: str) -> bool:
        return self.rows.pop((kind, key), None) is not None


def test_a_service_runs_on_just_the_protocol_it_names() -> None:
    documents = Documents()
    manager = DifficultyManager(documents)

    async def main() -> Any:
        for i in range(6):
            await manager.record_performance("alice", {
                "encounter_id": f"enc_{i}", "success": True, "completion_seconds": 30.0,
                "expected_seconds": 120.0, "difficulty": 0.5,
            })  # fmt: skip
        return await manager.calculate_difficulty("alice", 0.5)

    difficulty = anyio.run(main)
    assert [kind for kind, _ in documents.rows] == ["difficulty"]
    assert 0.5 < difficulty <= 1.0  # won fast every time: the next one is harder
