"""Settings of the patient's rights to a copy and to erasure (prefix PORTAL_), owned by the domain."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PrivacySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    # A patient may take an erasure back within these days; then it runs (0: at the next cron run).
    erasure_grace_days: int = Field(default=7, ge=0, le=14)
    # The time limit this product holds itself to (PIPL art. 47: "及时"; 15 days as for access requests).
    erasure_due_days: int = Field(default=15, ge=1, le=30)
    # How long a finished copy stays downloadable; then its content is dropped.
    export_ttl_days: int = Field(default=7, ge=1, le=30)
    # One copy per patient in this many hours (making one reads every domain).
    export_interval_hours: int = Field(default=24, ge=0, le=720)
    # Tries of the export job before the copy is marked failed (the patient may ask again).
    export_max_attempts: int = Field(default=3, ge=1, le=10)


@lru_cache(maxsize=1)
def get_privacy_settings() -> PrivacySettings:
    return PrivacySettings()


def reset_privacy_settings() -> None:
    get_privacy_settings.cache_clear()
