"""Settings, read from keyword arguments, then ``AE_*`` environment variables, then
defaults. Nothing here needs a key: the embedded defaults run fully offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from .errors import ConfigError

APP_NAME = "ai-encounters"
DB_FILENAME = "encounters.db"
ENV_PREFIX = "AE_"
#: How ``AE_STORE`` names a PostgreSQL database.
POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+asyncpg://")


def default_data_dir() -> Path:
    """The per-user data folder (``~/.local/share/ai-encounters`` on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


class ModerationSettings(BaseModel):
    """Limits and options of moderation (``AE_MODERATION__*`` in the environment, e.g.
    ``AE_MODERATION__MAX_CHAT_LENGTH=120``)."""

    max_message_length: int = Field(500, ge=1, le=100_000)
    max_chat_length: int = Field(256, ge=1, le=100_000)
    #: Horizontal (x, z) and vertical (y) bounds of coordinates in actions.
    max_horizontal: float = Field(30_000_000, gt=0)
    max_vertical: float = Field(4096, gt=0)
    #: Folders of extra word lists (format: moderation/data/README.md).
    lexicon_dirs: list[str] = []
    #: Built-in word-list languages to load (None: all of en, de, es, fr, pt, ru).
    languages: list[str] | None = None
    #: Run the offline topic model (moderation/topicmodel.py) after the word lists.
    topic_model: bool = True
    #: Also ask a provider's moderation model about text the offline layers let through:
    #: ``openai`` (its moderation endpoint, with ``OPENAI_API_KEY`` and
    #: ``OPENAI_BASE_URL``). Off by default: it sends chat text to a third party.
    provider: Literal["openai"] | None = None
    provider_model: str = "omni-moderation-latest"
    #: Seconds to wait for the provider before the fallback below applies.
    provider_timeout: float = Field(2.0, gt=0, le=60)
    #: When the provider fails or is too slow: ``offline`` keeps the word lists' and
    #: topic model's decision; ``block`` blocks the message.
    on_provider_failure: Literal["offline", "block"] = "offline"


class VoiceSettings(BaseModel):
    """Speech for voiced companions (``AE_VOICE__*``, e.g.
    ``AE_VOICE__PROVIDERS='["openai", "espeak"]'``). ``openai`` uses ``OPENAI_API_KEY``
    and ``AE_VOICE__OPENAI_BASE_URL`` (else ``OPENAI_BASE_URL``); ``espeak`` is offline
    (the ``[voice]`` extra); ``piper`` is offline too, with the voice model file
    ``AE_VOICE__PIPER_MODEL`` (the ``[piper]`` extra)."""

    #: Engines in the order they are tried.
    providers: list[Literal["openai", "piper", "espeak"]] = Field(["espeak"], min_length=1)
    #: A Piper voice model you have (``NAME.onnx``, its ``NAME.onnx.json`` beside it),
    #: for the ``piper`` engine.
    piper_model: Path | None = None
    openai_model: str = "gpt-4o-mini-tts"
    #: The OpenAI voice for personas whose voice id names none of its voices.
    openai_voice: str = "alloy"
    openai_base_url: str | None = None
    #: Seconds one engine call may take, and one whole line over every engine: a
    #: voiced chat line waits for its audio this long at most, then goes without.
    timeout: float = Field(5.0, gt=0, le=120)
    deadline: float = Field(8.0, gt=0, le=300)
    max_retries: int = Field(1, ge=0, le=5)
    #: Largest size of the audio cache (``DATA_DIR/audio``), megabytes.
    cache_max_mb: int = Field(256, ge=1, le=1_000_000)
    #: Price overrides, USD per million characters: {"tts-1": 15.0}.
    prices: dict[str, float] = {}


ProviderName = Literal["openai", "anthropic", "ollama"]


class LLMSettings(BaseSettings):
    """LLM providers, read from the seed's environment variables (no ``AE_`` prefix):
    ``LLM_PRIMARY_PROVIDER``, ``LLM_FALLBACK_PROVIDER``, ``LLM_LOCAL_ENABLED``,
    ``LLM_LOCAL_URL``, ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``OPENAI_MODEL``,
    ``ANTHROPIC_API_KEY``, ``ANTHROPIC_MODEL``, ``ANTHROPIC_BASE_URL``, ``OLLAMA_MODEL``,
    ``LLM_TIMEOUT``, ``LLM_DEADLINE``, ``LLM_CHAT_DEADLINE``, ``LLM_MAX_RETRIES``,
    ``LLM_MAX_BACKOFF``, ``LLM_MAX_RETRY_AFTER``, ``LLM_COOLDOWN_AFTER``,
    ``LLM_COOLDOWN_SECONDS``, ``LLM_CHECK_TIMEOUT``, ``LLM_PROCEDURAL_FALLBACK``,
    ``LLM_PRICES``. Without ``LLM_LOCAL_URL`` the Ollama client reads ``OLLAMA_HOST``.

    Keys are secrets: they are never printed (``repr`` shows ``**********``).
    """

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    llm_primary_provider: ProviderName | None = None
    llm_fallback_provider: ProviderName | None = None
    llm_local_enabled: bool = False
    #: The Ollama server; None: ``OLLAMA_HOST``, else http://127.0.0.1:11434.
    llm_local_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    anthropic_api_key: SecretStr | None = None
    anthropic_model: str = "claude-3-5-sonnet-20241022"
    anthropic_base_url: str | None = None
    ollama_model: str = "llama3.1"
    #: Seconds one call may take before it counts as a timeout.
    llm_timeout: float = Field(30.0, gt=0, le=600)
    #: Seconds one whole generation may take over every provider, retries and re-ask
    #: included; then the offline generator answers.
    llm_deadline: float = Field(30.0, gt=0, le=3600)
    #: Seconds one companion turn may take over every provider; then the offline brain
    #: answers.
    llm_chat_deadline: float = Field(10.0, gt=0, le=3600)
    #: Retries per call on 429, 5xx and timeouts (ours; the clients never retry).
    llm_max_retries: int = Field(2, ge=0, le=10)
    #: Longest wait between retries, Retry-After included; longer means next provider.
    llm_max_backoff: float = Field(10.0, ge=0, le=300)
    #: Longest rest a server's Retry-After may impose on a provider; longer is cut
    #: to this (and logged).
    llm_max_retry_after: float = Field(300.0, ge=0, le=86400)
    #: After this many failed calls in a row a provider rests for the cooldown.
    llm_cooldown_after: int = Field(3, ge=1, le=100)
    llm_cooldown_seconds: float = Field(30.0, ge=0, le=3600)
    #: Seconds each provider's check may take (``ae providers check``).
    llm_check_timeout: float = Field(5.0, gt=0, le=600)
    #: Use the offline generator when every provider failed.
    llm_procedural_fallback: bool = True
    #: Price overrides, USD per million tokens: {"model": [input, output]}.
    llm_prices: dict[str, tuple[float, float]] = {}

    @property
    def configured(self) -> bool:
        return bool(
            self.llm_primary_provider
            or self.llm_fallback_provider
            or self.llm_local_enabled
            or self.openai_api_key
            or self.openai_base_url
            or self.anthropic_api_key
        )


class MarketSettings(BaseModel):
    """The marketplace (``AE_MARKET__*``, e.g. ``AE_MARKET__TENANT_REPORT_CAP=5``).

    How much one game server (rating and reporting for its players) weighs in a
    listing's ratings (as at most this many ratings at its players' mean) and its
    report count; 0: game servers' ratings or reports do not count. Unset: the market
    store's defaults (10 and 3; ``TENANT_RATING_CAP``, ``TENANT_REPORT_CAP`` in
    ``marketplace/store.py``). A change is applied to every listing's figures when the
    market store next opens."""

    tenant_rating_cap: int | None = Field(None, ge=0, le=1_000_000)
    tenant_report_cap: int | None = Field(None, ge=0, le=1_000_000)


class RetrySettings(BaseModel):
    base: float = Field(60.0, gt=0, allow_inf_nan=False)
    max_delay: float = Field(3600.0, gt=0, allow_inf_nan=False)
    max_attempts: int = Field(8, ge=1, le=100)


class Settings(BaseSettings):
    """Engine settings. ``AE_DATA_DIR`` moves the store; ``AE_STORE=memory`` keeps
    nothing on disk (tests, throwaway runs); ``AE_STORE=postgresql://user:password@host/db``
    keeps the store in PostgreSQL (the ``postgres`` extra), shared by several nodes.
    Build them with :func:`load_settings` to get a :class:`ConfigError` naming the
    variable instead of a pydantic error."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", env_nested_delimiter="__"
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    #: ``sqlite`` (a file in the data folder), ``memory`` or a ``postgresql://`` URL.
    #: Not shown in ``repr``: a URL may hold a password.
    store: str = Field("sqlite", repr=False)
    #: Several daemon nodes: ``redis://host:6379/0`` (the ``redis`` extra) carries
    #: signals between nodes, link leases and shared rate limits. Unset: one node, all
    #: of that in memory. Not shown in ``repr``: a URL may hold a password.
    redis: str | None = Field(None, repr=False)
    #: Prefix of every Redis key and channel, so several deployments (or test runs)
    #: can share one Redis server.
    redis_prefix: str = Field("ae", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    log_format: Literal["console", "json"] = "console"
    template_dirs: list[Path] = []
    moderation: ModerationSettings = ModerationSettings()
    llm: LLMSettings = Field(default_factory=LLMSettings)
    voice: VoiceSettings = VoiceSettings()
    market: MarketSettings = MarketSettings()
    #: Encrypts NPC memories and webhook signing secrets (32 bytes, base64). Unset: a
    #: key file ``memory.key`` is created in the data folder (0600) on first use.
    #: Never logged.
    memory_key: SecretStr | None = None
    #: Adaptive difficulty: the original design's rules, or a Glicko-2 rating that
    #: aims at ``target_success`` (the share of encounters players should win).
    #: Address ranges webhooks may reach besides public ones (CIDR list, e.g.
    #: ["10.1.0.0/16"] for a receiver on your own network). Default: public only.
    webhook_allow_networks: list[str] = []
    #: Webhook retries: exponential backoff with full jitter from ``base`` seconds,
    #: doubling up to ``max_delay``, for ``max_attempts`` attempts in all.
    webhook_retry: RetrySettings = Field(default_factory=lambda: RetrySettings())
    difficulty_policy: Literal["rules", "rating"] = "rules"
    target_success: float = Field(0.75, ge=0.05, le=0.95)

    @field_validator("store")
    @classmethod
    def _store_kind(cls, value: str) -> str:
        if value in ("sqlite", "memory") or value.startswith(POSTGRES_SCHEMES):
            return value
        raise ValueError(
            "use sqlite, memory or a PostgreSQL URL (postgresql://user:password@host:5432/dbname)"
        )

    @field_validator("redis")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None or value.startswith(("redis://", "rediss://", "unix://")):
            return value
        raise ValueError("use a Redis URL (redis://host:6379/0, rediss://... or unix://...)")

    @property
    def database_path(self) -> Path:
        return self.data_dir / DB_FILENAME


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment with ``overrides`` on top (``None`` values are
    ignored). Bad values raise :class:`ConfigError` naming the ``AE_*`` variable."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        lines = [f"{env_name(e['loc'], given)}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("invalid settings:\n  " + "\n  ".join(lines)) from None
    except SettingsError as exc:
        cause = exc.__cause__ or exc
        raise ConfigError(
            f"invalid settings: {exc} ({cause}); list and table values (AE_TEMPLATE_DIRS, "
            'LLM_PRICES) are JSON, e.g. ["/path/one"] or {"my-model": [0.5, 1.5]}'
        ) from None


def env_name(loc: tuple[int | str, ...], given: dict[str, Any]) -> str:
    """The environment variable (or argument) a validation error is about."""
    parts = [str(p) for p in loc]
    if not parts:
        return "settings"
    if parts[0] in given:
        return ".".join(parts)
    if parts[0] == "llm" and len(parts) > 1:
        return parts[1].upper()  # the seed's names have no prefix: LLM_TIMEOUT
    if parts[0] in LLMSettings.model_fields:
        return parts[0].upper()
    field = Settings.model_fields.get(parts[0])
    nested = (
        field is not None
        and isinstance(field.annotation, type)
        and issubclass(field.annotation, BaseModel)
    )
    if nested and len(parts) > 1:  # AE_MODERATION__MAX_CHAT_LENGTH, AE_WEBHOOK_RETRY__BASE
        return f"{ENV_PREFIX}{parts[0].upper()}__{parts[1].upper()}"
    return f"{ENV_PREFIX}{parts[0].upper()}"
