"""Settings, read from keyword arguments, then ``AE_*`` environment variables, then
defaults. Nothing here needs a key: the embedded defaults run fully offline."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

APP_NAME = "ai-encounters"
DB_FILENAME = "encounters.db"


def default_data_dir() -> Path:
    """The per-user data folder (``~/.local/share/ai-encounters`` on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


class Settings(BaseSettings):
    """Engine settings. ``AE_DATA_DIR`` moves the store; ``AE_STORE=memory`` keeps
    nothing on disk (tests, throwaway runs)."""

    model_config = SettingsConfigDict(env_prefix="AE_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    store: Literal["sqlite", "memory"] = "sqlite"
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    log_format: Literal["console", "json"] = "console"
    template_dirs: list[Path] = []

    @property
    def database_path(self) -> Path:
        return self.data_dir / DB_FILENAME
