"""Settings, read from keyword arguments, then ``AE_*`` environment variables, then
defaults. Nothing here needs a key: the embedded defaults run fully offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from .errors import ConfigError

APP_NAME = "ai-encounters"
DB_FILENAME = "encounters.db"
ENV_PREFIX = "AE_"


def default_data_dir() -> Path:
    """The per-user data folder (``~/.local/share/ai-encounters`` on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


class Settings(BaseSettings):
    """Engine settings. ``AE_DATA_DIR`` moves the store; ``AE_STORE=memory`` keeps
    nothing on disk (tests, throwaway runs). Build them with :func:`load_settings` to
    get a :class:`ConfigError` naming the variable instead of a pydantic error."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    store: Literal["sqlite", "memory"] = "sqlite"
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    log_format: Literal["console", "json"] = "console"
    template_dirs: list[Path] = []

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
        lines = []
        for e in exc.errors():
            field = str(e["loc"][0]) if e["loc"] else "?"
            source = field if field in given else f"{ENV_PREFIX}{field.upper()}"
            lines.append(f"{source}: {e['msg']}")
        raise ConfigError("invalid settings:\n  " + "\n  ".join(lines)) from None
    except SettingsError as exc:
        cause = exc.__cause__ or exc
        raise ConfigError(
            f"invalid settings: {exc} ({cause}); list values such as AE_TEMPLATE_DIRS "
            'are JSON, e.g. ["/path/one", "/path/two"]'
        ) from None
