"""Settings of the staff console (prefix PORTAL_CONSOLE_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.settings import get_settings


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_CONSOLE_", extra="ignore")

    # A console left open on a shared front-desk computer signs itself out after this long unused.
    idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # None: Secure cookies in production only (tests and development run over plain http://127.0.0.1).
    secure_cookie: bool | None = None

    @property
    def idle_seconds(self) -> int:
        return self.idle_minutes * 60

    @property
    def cookie_secure(self) -> bool:
        return self.secure_cookie if self.secure_cookie is not None else get_settings().env == "production"


@lru_cache
def get_console_settings() -> ConsoleSettings:
    return ConsoleSettings()
