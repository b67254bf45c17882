"""Campaign settings (prefix PORTAL_CAMPAIGN_), apart from core settings so the domain owns them."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class CampaignSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_CAMPAIGN_", extra="ignore")

    # Messages per second per channel, shared by every worker (a Redis counter per second).
    rate_in_app: int = 2000
    rate_sms: int = 50
    rate_email: int = 50
    rate_wechat: int = 100
    # Quiet hours and frequency caps belong to the one outreach policy (messaging/outreach.py).
    attribution_days: int = 30
    batch_size: int = 5000  # audience rows per materialisation transaction (memory stays bounded by it)
    send_batch_size: int = 200  # deliveries per sending transaction
    dormant_journey_days: int = 30  # a dormant patient is greeted once per dormancy, within this window

    def rate(self, channel: str) -> int:
        return int(getattr(self, f"rate_{channel}"))


@lru_cache(maxsize=1)
def get_campaign_settings() -> CampaignSettings:
    return CampaignSettings()


def reset_campaign_settings() -> None:
    get_campaign_settings.cache_clear()
