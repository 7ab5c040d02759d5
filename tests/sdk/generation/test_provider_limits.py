"""The provider layer at the edges of real servers, over real HTTP to the loopback fakes
(tests/fakes): overall deadlines (a hanging provider no longer blocks), configured keys
echoed by a server, Retry-After (capped, and as an HTTP date), refusals and truncation,
the output cap's parameter name, Ollama's cap and ``OLLAMA_HOST``, ``ae providers
check`` with status, error and latency, the documented variables, and a corrected
difficulty. Nothing is monkeypatched but environment variables.
"""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from encounters import ConfigError, Engine, GenerationError, SyncEngine
from encounters.cli import app
from encounters.generation.anthropic_provider import AnthropicProvider
from encounters.generation.llm import retry_after_seconds
from encounters.generation.openai_provider import OpenAIProvider
from encounters.generation.router import RouterPolicy
from encounters.log import configure_logging
from encounters.settings import LLMSettings, load_settings
from tests.fakes.http import FakeServer, Reply, fake_server
from tests.fakes.llm import (
    anthropic_error,
    anthropic_message_reply,
    ollama_chat_reply,
    ollama_error,
    openai_chat_reply,
    openai_error,
    openai_reasoning_model,
)
from tests.sdk.generation.test_providers import (
    ANTHROPIC,
    CHAT,
    GOOD,
    KINDS,
    OLLAMA,
    OPENAI,
    REQUEST,
    SPAWN,
    Kind,
    assert_from,
    attempts,
    bad_quantity,
    generate,
    openai_env,
    other,
    router,
    run,
    script,
)

#: How long a hung fake server sits on a request: far past every deadline below.
HANG = 20.0
#: A generous bound for "no longer hangs": the deadlines below are 1.5 to 4 s.
WITHIN = 10.0
runner = CliRunner()


@pytest.fixture(scope="module")
def _shared_server() -> Iterator[FakeServer]:
    with fake_server() as server:
        yield server


@pytest.fixture
def server(_shared_server: FakeServer) -> FakeServer:
    _shared_server.routes.clear()
    _shared_server.requests.clear()
    return _shared_server


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """The SDK's structured log lines (JSON), at debug level."""
    buffer = io.StringIO()
    configure_logging("debug", "json", stream=buffer)
    yield buffer
    configure_logging()


def events(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def hung(kind: Kind) -> Reply:
    return replace(kind.ok(), delay=HANG)


def table_rows(text: str) -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"[│|]", line) if c.strip()]
        if cells:
            rows.setdefault(cells[0], " ".join(cells[1:]))
    return rows


# --------------------------------------------------------------------------- deadlines


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_a_hanging_provider_no_longer_blocks_past_the_deadline(
    server: FakeServer, kind: Kind
) -> None:
    """A 30 s per-call timeout and two retries would block 90 s; the 1.5 s deadline
    ends it and the offline generator answers."""
    handler = script(server, kind, default=hung(kind))
    started = time.monotonic()
    spec, manager = generate(
        kind.provider(server.base_url, timeout=60), timeout=30.0, max_retries=2, deadline=1.5
    )
    assert time.monotonic() - started < WITHIN
    assert spec.generator == "procedural"
    assert handler.calls == 1  # no retry after the deadline
    assert attempts(manager) == [(kind.name, False)]
    assert "timed out: the deadline" in (manager.recent[0].error or "")


def test_a_hanging_primary_leaves_time_to_the_fallback(server: FakeServer) -> None:
    script(server, OPENAI, default=hung(OPENAI))
    fallback = script(server, ANTHROPIC, ANTHROPIC.ok())
    started = time.monotonic()
    spec, manager = generate(
        OPENAI.provider(server.base_url, timeout=60),
        ANTHROPIC.provider(server.base_url),
        timeout=30.0,
        deadline=4.0,
    )
    assert time.monotonic() - started < WITHIN
    assert_from(spec, ANTHROPIC)
    assert fallback.calls == 1
    assert attempts(manager) == [("openai", False), ("anthropic", True)]


def test_a_reask_and_three_hanging_providers_stay_within_the_deadline(
    server: FakeServer,
) -> None:
    primary = script(server, OPENAI, OPENAI.ok(bad_quantity()), default=hung(OPENAI))
    script(server, ANTHROPIC, default=hung(ANTHROPIC))
    script(server, OLLAMA, default=hung(OLLAMA))
    started = time.monotonic()
    spec, manager = generate(
        *(k.provider(server.base_url, timeout=60) for k in KINDS), timeout=30.0, deadline=3.0
    )
    assert time.monotonic() - started < WITHIN
    assert spec.generator == "procedural"
    assert primary.calls == 2  # the answer, then the re-ask that hung
    # each provider got its share of the time left
    assert attempts(manager) == [("openai", False)] * 2 + [("anthropic", False), ("ollama", False)]


def test_llm_deadline_from_the_environment_bounds_an_engine_generation(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    script(server, OPENAI, default=hung(OPENAI))
    openai_env(monkeypatch, server.base_url, LLM_TIMEOUT="30", LLM_DEADLINE="1.5")

    async def main() -> str | None:
        async with Engine(load_settings(store="memory")) as engine:
            return (await engine.generate(category="combat")).generator

    started = time.monotonic()
    assert run(main) == "procedural"
    assert time.monotonic() - started < WITHIN


def test_a_chat_turn_has_its_own_deadline(server: FakeServer) -> None:
    script(server, OPENAI, default=hung(OPENAI))

    async def main() -> None:
        async with router(
            OPENAI.provider(server.base_url, timeout=60), timeout=30.0, chat_deadline=1.5
        ) as manager:
            with pytest.raises(GenerationError, match="openai: timed out: the deadline"):
                await manager.chat(CHAT, [SPAWN])

    started = time.monotonic()
    run(main)
    assert time.monotonic() - started < WITHIN


# --------------------------------------------------------------------------- keys


SHORT_KEY = "k3y9x"


def test_a_short_key_echoed_in_a_401_appears_nowhere(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Not shaped like ``sk-...``: only its literal value can be removed. Checked on
    stderr (errors and the logs), stdout and the stored usage rows."""
    echo = openai_error(401, f"Incorrect API key provided: {SHORT_KEY}. Check your key.")
    script(server, OPENAI, default=echo)
    openai_env(monkeypatch, server.base_url, OPENAI_API_KEY=SHORT_KEY, LLM_MAX_RETRIES="0")
    data = tmp_path / "data"
    result = runner.invoke(
        app, ["--data-dir", str(data), "generate", "-c", "combat", "--provider", "openai"]
    )
    assert result.exit_code == 1
    assert server.requests[0].headers["authorization"] == f"Bearer {SHORT_KEY}"  # it was sent
    assert "HTTP 401" in result.stderr and "Incorrect API key provided: [redacted]" in result.stderr
    assert SHORT_KEY not in result.stderr
    assert SHORT_KEY not in result.stdout
    with sqlite3.connect(data / "encounters.db") as db:
        stored = [row[0] for row in db.execute("SELECT error FROM llm_usage")]
    assert stored and all("[redacted]" in e and SHORT_KEY not in e for e in stored)


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        (OPENAI, SHORT_KEY),
        (OPENAI, "vllm-token-7f3a9c"),
        (ANTHROPIC, "gsk_Qm4Zt8Lw2Rx9"),
    ],
    ids=["short", "vllm-token", "gsk"],
)
def test_an_echoed_key_of_any_shape_is_in_no_exception_log_or_record(
    server: FakeServer,
    kind: Kind,
    key: str,
    logs: io.StringIO,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if kind is OPENAI:
        provider: Any = OpenAIProvider(api_key=key, base_url=server.base_url + "/v1", timeout=5)
        replies = [openai_error(429, f"rate limit for key {key}", retry_after=0.01),
                   openai_error(401, f"Incorrect API key provided: {key}")]  # fmt: skip
    else:
        provider = AnthropicProvider(api_key=key, base_url=server.base_url, timeout=5)
        replies = [anthropic_error(429, f"rate limit for key {key}", retry_after=0.01),
                   anthropic_error(401, f"invalid x-api-key {key}")]  # fmt: skip
    script(server, kind, *replies)
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        async with router(provider, max_retries=1, procedural_fallback=False) as manager:
            with pytest.raises(GenerationError) as caught:
                await manager.generate_encounter(REQUEST)
        chain: list[BaseException] = []
        exc: BaseException | None = caught.value
        while exc is not None and len(chain) < 10:
            chain.append(exc)
            exc = exc.__cause__ or exc.__context__
        assert "HTTP 401" in str(caught.value)
        for e in chain:
            assert key not in str(e) and key not in repr(e)
        assert len(manager.recent) == 2
        for record in manager.recent:
            assert "[redacted]" in (record.error or "")
            assert key not in record.model_dump_json()

    run(main)
    assert {"llm.retry", "llm.provider_failed"} <= {e["event"] for e in events(logs)}
    assert key not in logs.getvalue()
    assert key not in caplog.text


# --------------------------------------------------------------------------- Retry-After


def test_a_retry_after_of_a_day_is_capped_and_logged(server: FakeServer, logs: io.StringIO) -> None:
    primary = script(server, OPENAI, default=OPENAI.error(429, "come back tomorrow", 86400))
    script(server, OLLAMA, default=OLLAMA.ok())
    now = [1000.0]

    async def main() -> list[str | None]:
        gens: list[str | None] = []
        async with router(
            OPENAI.provider(server.base_url),
            OLLAMA.provider(server.base_url),
            clock=lambda: now[0],
            max_backoff=1.0,
            max_retry_after=60.0,
        ) as manager:
            gens.append((await manager.generate_encounter(REQUEST)).generator)
            now[0] += 59  # still resting
            gens.append((await manager.generate_encounter(REQUEST)).generator)
            assert primary.calls == 1
            now[0] += 2  # the capped rest is over: asked again, not after a day
            gens.append((await manager.generate_encounter(REQUEST)).generator)
            assert primary.calls == 2
        return gens

    assert run(main) == ["llm:ollama:llama3.1"] * 3
    capped = [e for e in events(logs) if e["event"] == "llm.retry_after_capped"]
    assert capped and capped[0]["asked"] == 86400 and capped[0]["resting"] == 60


def http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


def rate_limited(kind: Kind, retry_after: str) -> Reply:
    """A 429 whose Retry-After is given as is (here: an HTTP date)."""
    if kind is OPENAI:
        return openai_error(429, "slow down", retry_after=retry_after)
    if kind is ANTHROPIC:
        return anthropic_error(429, "slow down", retry_after=retry_after)
    reply = ollama_error(429, "slow down")
    reply.headers["retry-after"] = retry_after
    return reply


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_a_retry_after_date_in_two_minutes_rests_the_provider(
    server: FakeServer, kind: Kind
) -> None:
    """Ignoring the date would retry at once (three calls); honouring it rests the
    provider, which is then not asked again."""
    handler = script(server, kind, default=rate_limited(kind, http_date(120)))

    async def main() -> list[str | None]:
        async with router(kind.provider(server.base_url), max_backoff=1.0) as manager:
            return [(await manager.generate_encounter(REQUEST)).generator for _ in range(2)]

    assert run(main) == ["procedural"] * 2
    assert handler.calls == 1


def test_a_retry_after_date_in_the_past_is_retried_at_once(server: FakeServer) -> None:
    handler = script(server, OPENAI, rate_limited(OPENAI, http_date(-60)), OPENAI.ok())
    spec, manager = generate(OPENAI.provider(server.base_url), max_backoff=1.0)
    assert_from(spec, OPENAI)
    assert handler.calls == 2
    assert attempts(manager) == [("openai", False), ("openai", True)]


def test_retry_after_seconds_reads_both_forms() -> None:
    now = datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2026 07:28:30 GMT"}, now) == 30
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2026 07:27:00 GMT"}, now) == 0
    assert retry_after_seconds({"retry-after": "2.5"}, now) == 2.5
    assert retry_after_seconds({"retry-after-ms": "250"}, now) == 0.25
    assert retry_after_seconds({"retry-after": "soon"}, now) is None


# --------------------------------------------------------------------------- refusals


def refusal(kind: Kind) -> Reply:
    if kind is OPENAI:
        return openai_chat_reply(refusal="I can't help with that.")
    return anthropic_message_reply(text="I can't help with that.", stop_reason="refusal")


@pytest.mark.parametrize("kind", [OPENAI, ANTHROPIC], ids=str)
def test_a_refusal_is_recorded_and_not_asked_again(server: FakeServer, kind: Kind) -> None:
    primary = script(server, kind, default=refusal(kind))
    fallback_kind = other(kind)
    script(server, fallback_kind, fallback_kind.ok())
    spec, manager = generate(
        kind.provider(server.base_url), fallback_kind.provider(server.base_url)
    )
    assert_from(spec, fallback_kind)
    assert primary.calls == 1
    assert attempts(manager) == [(kind.name, False), (fallback_kind.name, True)]
    assert manager.recent[0].error == "refused: I can't help with that."
    assert manager.recent[0].output_tokens == 50  # the refusal's tokens are counted


def test_an_openai_content_filter_stop_is_a_refusal(server: FakeServer) -> None:
    filtered = openai_chat_reply('{"title": "', finish_reason="content_filter")
    handler = script(server, OPENAI, default=filtered)
    spec, manager = generate(OPENAI.provider(server.base_url))
    assert spec.generator == "procedural"
    assert handler.calls == 1
    assert manager.recent[0].error == "refused: stopped by the content filter"


def test_a_chat_refusal_is_no_answer(server: FakeServer) -> None:
    script(server, OPENAI, refusal(OPENAI))
    script(server, ANTHROPIC, anthropic_message_reply(text="Hello there."))

    async def main() -> None:
        async with router(
            OPENAI.provider(server.base_url), ANTHROPIC.provider(server.base_url)
        ) as manager:
            result = await manager.chat(CHAT, [])
            assert result.text == "Hello there."
            assert [(r.provider, r.ok, r.error) for r in manager.recent] == [
                ("openai", False, "refused: I can't help with that."),
                ("anthropic", True, None),
            ]

    run(main)


def test_a_chat_reply_cut_at_the_limit_is_kept_and_noted(server: FakeServer) -> None:
    cut = ollama_chat_reply("Well, the forge was built in the year of", done_reason="length")
    script(server, OLLAMA, cut)

    async def main() -> None:
        async with router(OLLAMA.provider(server.base_url)) as manager:
            result = await manager.chat(CHAT, [])
            assert result.text.startswith("Well, the forge")
            (record,) = manager.recent
            assert record.ok and record.error == "truncated at the output token limit"

    run(main)


# --------------------------------------------------------------------------- output cap


def test_a_server_that_refuses_max_tokens_gets_max_completion_tokens(
    server: FakeServer,
) -> None:
    """As OpenAI's reasoning models answer, whatever the URL: the refused request is
    sent again with the other name at once, which is then kept."""
    handler = script(server, OPENAI, default=OPENAI.ok())
    server.route("POST", OPENAI.path, openai_reasoning_model(handler))

    async def main() -> None:
        async with router(OPENAI.provider(server.base_url)) as manager:
            for _ in range(2):
                assert_from(await manager.generate_encounter(REQUEST), OPENAI)
            await manager.chat(CHAT, [SPAWN])
            assert attempts(manager) == [("openai", True)] * 3

    run(main)
    sent = [r.body for r in server.requests]
    assert [("max_tokens" in b, b.get("max_completion_tokens")) for b in sent] == [
        (True, None),  # refused: "Unsupported parameter: 'max_tokens' ..."
        (False, 2000),
        (False, 2000),
        (False, 2000),
    ]
    assert sent[0]["max_tokens"] == 2000


def test_a_compatible_server_gets_max_tokens(server: FakeServer) -> None:
    handler = script(server, OPENAI, OPENAI.ok())
    generate(OPENAI.provider(server.base_url))
    assert handler.bodies[0]["max_tokens"] == 2000
    assert "max_completion_tokens" not in handler.bodies[0]


def test_a_400_about_the_value_of_max_tokens_is_not_a_refused_name(server: FakeServer) -> None:
    too_large = openai_error(
        400,
        "max_tokens is too large: 2000. This model supports at most 1024 completion tokens, "
        "whereas you provided 2000.",
        param="max_tokens",
    )
    handler = script(server, OPENAI, default=too_large)
    spec, manager = generate(OPENAI.provider(server.base_url))
    assert spec.generator == "procedural"
    assert handler.calls == 1
    assert "HTTP 400" in (manager.recent[0].error or "")


# --------------------------------------------------------------------------- Ollama


def test_ollama_output_is_capped_like_the_others(server: FakeServer) -> None:
    handler = script(server, OLLAMA, OLLAMA.ok(), ollama_chat_reply("Aye."))

    async def main() -> None:
        async with router(OLLAMA.provider(server.base_url)) as manager:
            await manager.generate_encounter(REQUEST)
            await manager.chat(CHAT, [SPAWN])

    run(main)
    assert [b["options"]["num_predict"] for b in handler.bodies] == [2000, 2000]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_ollama_host_is_honoured(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    handler = script(server, OLLAMA, OLLAMA.ok())
    monkeypatch.setenv("LLM_LOCAL_ENABLED", "true")
    monkeypatch.setenv("OLLAMA_HOST", server.base_url.removeprefix("http://"))  # host:port
    with SyncEngine(load_settings(store="memory")) as engine:
        spec = engine.generate(category="puzzle", difficulty=0.7, language="de")
    assert_from(spec, OLLAMA)
    assert handler.calls == 1


def test_llm_local_url_wins_over_ollama_host(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    handler = script(server, OLLAMA, OLLAMA.ok())
    monkeypatch.setenv("LLM_LOCAL_ENABLED", "true")
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{closed_port}")
    monkeypatch.setenv("LLM_LOCAL_URL", server.base_url)
    with SyncEngine(load_settings(store="memory")) as engine:
        assert_from(engine.generate(category="puzzle", difficulty=0.7, language="de"), OLLAMA)
    assert handler.calls == 1


# --------------------------------------------------------------------------- ae providers check


def _all_three(monkeypatch: pytest.MonkeyPatch, url: str, **extra: str) -> None:
    openai_env(monkeypatch, url, LLM_FALLBACK_PROVIDER="anthropic", **extra)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-check")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
    monkeypatch.setenv("LLM_LOCAL_ENABLED", "true")
    monkeypatch.setenv("LLM_LOCAL_URL", url)
    monkeypatch.setenv("COLUMNS", "250")


def test_providers_check_runs_concurrently_with_a_short_timeout(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three silent servers: one after the other they would take 12 s and more."""
    silent = Reply(200, {}, delay=HANG)
    for path in (f"/v1/models/{OPENAI.model}", f"/v1/models/{ANTHROPIC.model}", "/api/tags"):
        server.route("GET", path, lambda _: silent)
    _all_three(monkeypatch, server.base_url, LLM_TIMEOUT="30", LLM_CHECK_TIMEOUT="4")
    started = time.monotonic()
    result = runner.invoke(app, ["providers", "check"])
    assert time.monotonic() - started < WITHIN
    assert result.exit_code == 1
    rows = table_rows(result.stdout)
    for kind in KINDS:
        assert re.fullmatch(rf"{kind.model} down - \d+ ms no answer within 4 s", rows[kind.name]), (
            rows[kind.name]
        )


def test_providers_check_shows_status_error_and_latency(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "vllm-token-c4e1"
    server.route("GET", f"/v1/models/{OPENAI.model}",
                 lambda _: openai_error(401, f"Incorrect API key provided: {key}."))  # fmt: skip
    server.route("GET", f"/v1/models/{ANTHROPIC.model}",
                 lambda _: anthropic_error(529, "Overloaded"))  # fmt: skip
    server.route("GET", "/api/tags", lambda _: ollama_error(500, "llama runner crashed"))
    _all_three(monkeypatch, server.base_url, OPENAI_API_KEY=key)
    result = runner.invoke(app, ["providers", "check", "--timeout", "3"])
    assert result.exit_code == 1
    rows = table_rows(result.stdout)
    assert re.fullmatch(
        r"gpt-4o-mini down 401 \d+ ms HTTP 401: .*Incorrect API key provided: \[redacted\].*",
        rows["openai"],
    ), rows["openai"]
    assert re.match(rf"{ANTHROPIC.model} down 529 \d+ ms HTTP 529: .*Overloaded", rows["anthropic"])
    assert re.fullmatch(r"llama3.1 down 500 \d+ ms HTTP 500: llama runner crashed", rows["ollama"])
    assert key not in result.output


# --------------------------------------------------------------------------- docs


#: Variables read by something other than the settings: the ollama client's own.
OTHER_READERS = {"OLLAMA_HOST", "OLLAMA_API_KEY"}


@pytest.mark.parametrize("doc", ["README.md", "docs/companions.md"])
def test_every_llm_variable_the_docs_name_exists(doc: str) -> None:
    text = (Path(__file__).resolve().parents[3] / doc).read_text()
    named = set(re.findall(r"\b(?:AE_)?(?:LLM|OPENAI|ANTHROPIC|OLLAMA)_[A-Z_]*[A-Z]\b", text))
    known = {name.upper() for name in LLMSettings.model_fields} | OTHER_READERS
    assert named, "the doc names no LLM variable"
    assert named <= known, sorted(named - known)


# --------------------------------------------------------------------------- difficulty


def test_a_difficulty_outside_the_schema_is_replaced_and_the_correction_recorded(
    server: FakeServer, logs: io.StringIO
) -> None:
    script(server, OPENAI, OPENAI.ok({**GOOD, "difficulty": 7.0}), OPENAI.ok())

    async def main() -> None:
        async with router(OPENAI.provider(server.base_url)) as manager:
            spec = await manager.generate_encounter(REQUEST)
            assert_from(spec, OPENAI)  # the requested 0.7
            (record,) = manager.recent
            assert record.ok
            assert record.error == (
                "corrected: the model's difficulty 7.0 is outside the schema (0.1 to 1.0); "
                "the requested 0.7 was used"
            )
            # a valid difficulty other than the requested one is not a correction
            await manager.generate_encounter(REQUEST)
            assert manager.recent[-1].error is None

    run(main)
    (corrected,) = [e for e in events(logs) if e["event"] == "llm.output_corrected"]
    assert corrected["provider"] == "openai" and "7.0" in corrected["note"]


@pytest.mark.parametrize("field", ["timeout", "deadline", "chat_deadline", "check_timeout"])
@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf")])
def test_a_policy_without_a_positive_time_is_a_clear_error(field: str, value: float) -> None:
    bad: dict[str, Any] = {field: value}  # one field, named at run time
    with pytest.raises(ConfigError, match=f"RouterPolicy.{field} must be a positive number"):
        RouterPolicy(**bad)


@pytest.mark.parametrize("name", ["LLM_DEADLINE", "LLM_CHAT_DEADLINE", "LLM_CHECK_TIMEOUT"])
def test_a_bad_deadline_setting_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "0")
    with pytest.raises(ConfigError, match=f"{name}: Input should be greater than 0"):
        load_settings(store="memory")
