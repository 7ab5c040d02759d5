"""Schemathesis over the whole control API, on a daemon over real HTTP: for every
operation in the OpenAPI document, generated requests (a bounded, fixed set: the
examples are derandomized) never get a server error, and every answer has a status,
content type and body the document declares. Webhooks may reach loopback only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from encounters.moderation import TextFilter
from encounters.settings import Settings
from tests.support.control import Keys, make_keys, run_daemon

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 25


def test_every_operation_keeps_to_the_openapi_document(tmp_path: Path) -> None:
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        daemon = run_daemon(tmp_path / "d.db", TextFilter.default(),
                            settings=Settings(data_dir=tmp_path,
                                              webhook_allow_networks=["127.0.0.0/8"]))  # fmt: skip
        with portal.wrap_async_context_manager(daemon) as dm:
            keys: Keys = portal.call(make_keys, dm.edge.store)
            document = httpx.get(dm.http_url + "/openapi.json").json()
            schema = schemathesis.openapi.from_dict(document)
            auth = {"Authorization": f"Bearer {keys.admin}"}
            tested = []
            for result in schema.get_all_operations():
                if isinstance(result, Err):  # the daemon's own document is invalid
                    raise result.err()
                operation = result.ok()

                @given(case=operation.as_strategy())
                @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                          suppress_health_check=list(HealthCheck))  # fmt: skip
                def keeps_to_the_document(case: schemathesis.Case[Any]) -> None:
                    # this daemon has no LLM: /translate answers its documented 503
                    checks = CHECKS[1:] if case.path == "/translate" else CHECKS
                    case.call_and_validate(base_url=dm.http_url, headers=auth, checks=checks)

                keeps_to_the_document()
                tested.append(operation.label)
    assert len(tested) == len([m for p in document["paths"].values() for m in p])
    assert "POST /personas/submit" in tested and "GET /metrics" in tested


pytestmark = pytest.mark.timeout(600)
