"""``GET /metrics`` over real HTTP, read with prometheus_client's own parser: process
metrics, request latency by route template, links, actions and moderation decisions,
one type per family and names by Prometheus conventions; no request without a key adds
a series."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from encounters.moderation import TextFilter
from tests.support.control import (
    bearer,
    live_companion,
    make_keys,
    run_daemon,
)


@pytest.mark.anyio
async def test_metrics_follow_prometheus_conventions(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with live_companion(tmp_path / "d.db", text_filter) as live:
        keys, http = live.keys, live.http
        pid, sid = live.pid, live.sid
        await http.post("/signal", headers=bearer(keys.creator), json={
            "sessionId": sid, "actions": [{"type": "chat", "message": "hi"},
                                          {"type": "look_at", "target": "x"}]})  # fmt: skip
        await http.get(f"/personas/{pid}", headers=bearer(keys.creator))
        await http.get("/personas")  # no key: 401
        text = (await http.get("/metrics", headers=bearer(keys.admin))).text

    families = list(text_string_to_metric_families(text))
    names = [f.name for f in families]
    assert len(names) == len(set(names))  # one type per family
    types = {f.name: f.type for f in families}
    assert types["process_resident_memory_bytes"] == "gauge"
    assert types["process_cpu_seconds"] == "counter"
    assert types["ae_http_request_duration_seconds"] == "histogram"
    assert types["ae_bridge_links"] == "gauge"
    assert types["ae_moderation_decisions"] == "counter"
    assert types["ae_actions"] == "counter"
    assert not [n for n in names if "per_week" in n]
    assert types["ae_window_moderation_decisions"] == "gauge"

    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families for s in f.samples}  # fmt: skip
    assert samples[("ae_bridge_links", ())] == 1
    assert samples[("ae_actions_total", (("decision", "allow"),))] == 1
    assert samples[("ae_actions_total", (("decision", "block"),))] == 1
    routes = {dict(labels)["route"]: dict(labels)["status"]
              for (name, labels) in samples
              if name == "ae_http_request_duration_seconds_count"}  # fmt: skip
    assert routes["/personas/{persona_id}"] == "200"  # the template, not the id
    assert routes["unmatched"] == "401"  # refused by the gate before routing
    assert pid not in text


@pytest.mark.anyio
async def test_made_up_methods_without_a_key_add_no_series(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            for i in range(20):  # HTTP lets a client name any method: each was a series
                r = await http.request(f"PROBE{i}", "/personas")
                assert r.status_code == 401
            text = (await http.get("/metrics", headers=bearer(keys.admin))).text

    methods = {
        s.labels["method"]
        for f in text_string_to_metric_families(text)
        if f.name == "ae_http_request_duration_seconds"
        for s in f.samples
    }
    assert methods == {"other"}  # (this GET /metrics is counted after its answer)
    assert "PROBE" not in text
