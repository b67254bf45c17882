"""Messaging provider settings (prefix PORTAL_), apart from core settings so the domain owns them.

SMS: `dev` (the recorder, the default outside production), `aliyun` (Alibaba Cloud dysmsapi) or
`tencent` (Tencent Cloud SMS 2021-01-11). WeChat: `dev` or `api` (the WeChat server API, mini
program subscribe messages or Official Account template messages). Production refuses `dev`: a
message sent through it fails instead of pretending to reach anyone.

Templates are registered at the provider; each message kind (sign-in code, notice, marketing) names
its template, sign name and the template's parameter names (comma-separated, in template order).
"""

from __future__ import annotations

import enum
import json
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.settings import get_settings


class MessageKind(enum.StrEnum):
    SIGN_IN_CODE = "sign_in_code"
    NOTICE = "notice"
    MARKETING = "marketing"


class WechatTemplate(BaseModel):
    """One WeChat template: its id, the page/url it opens, and where each data field's value comes
    from (`subject`, `body`, `date`, `brand`, `code` or a literal `=text`)."""

    template_id: str
    page: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)


class MessagingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    sms_timeout_seconds: float = 10
    # Per kind: template code / id, sign name (签名), parameter names in template order.
    sms_template_sign_in_code: str = ""
    sms_template_notice: str = ""
    sms_template_marketing: str = ""
    sms_sign_name: str = ""
    sms_sign_name_marketing: str = ""  # marketing SMS often carries its own sign; empty: sms_sign_name
    sms_params_sign_in_code: str = "code"
    sms_params_notice: str = "content"
    sms_params_marketing: str = "content"
    # Receipts and replies: the provider calls /hooks/sms/<provider>/{report,reply}?token=<this>.
    sms_callback_token: str = ""

    aliyun_access_key_id: str = ""
    aliyun_access_key_secret: str = ""
    aliyun_sms_endpoint: str = "https://dysmsapi.aliyuncs.com"
    aliyun_sms_region: str = "cn-hangzhou"

    tencent_secret_id: str = ""
    tencent_secret_key: str = ""
    tencent_sms_endpoint: str = "https://sms.tencentcloudapi.com"
    tencent_sms_region: str = "ap-guangzhou"
    tencent_sms_sdk_app_id: str = ""

    # Which WeChat app sends: the mini program (subscribe messages, one-time grants) or the
    # Official Account (template messages to its followers).
    wechat_send_app: Literal["mini_program", "official_account"] = "mini_program"
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_mini_app_id: str = ""
    wechat_mini_app_secret: str = ""
    wechat_oa_app_id: str = ""
    wechat_oa_app_secret: str = ""
    wechat_timeout_seconds: float = 10
    wechat_token_margin_seconds: int = 300  # refresh this long before expires_in runs out
    # JSON: {"notice": {"template_id": "...", "page": "pages/inbox/index", "fields": {"thing1": "subject"}}}
    wechat_templates: dict[str, WechatTemplate] = Field(default_factory=dict)
    wechat_miniprogram_state: Literal["developer", "trial", "formal"] = "formal"
    # The Token of 服务器配置 (message push): WeChat signs each push with sha1(sorted(token, timestamp,
    # nonce)). Empty refuses every push. Plaintext mode only (no AES message encryption).
    wechat_callback_token: str = ""

    @field_validator("wechat_templates", mode="before")
    @classmethod
    def _templates(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def sms_template(self, kind: MessageKind) -> tuple[str, str, list[str]]:
        """(template code, sign name, parameter names) for `kind`."""
        template = str(getattr(self, f"sms_template_{kind.value}"))
        sign = self.sms_sign_name_marketing if kind is MessageKind.MARKETING and self.sms_sign_name_marketing else ""
        params = [p.strip() for p in str(getattr(self, f"sms_params_{kind.value}")).split(",") if p.strip()]
        return template, sign or self.sms_sign_name, params

    def wechat_template(self, kind: MessageKind) -> WechatTemplate | None:
        return self.wechat_templates.get(kind.value)

    @property
    def sms_provider(self) -> str:
        return get_settings().sms_provider  # core settings: the production check reads it there

    @property
    def wechat_provider(self) -> str:
        return get_settings().wechat_provider

    @property
    def production(self) -> bool:
        return get_settings().env == "production"


@lru_cache(maxsize=1)
def get_messaging_settings() -> MessagingSettings:
    return MessagingSettings()


def reset_messaging_settings() -> None:
    get_messaging_settings.cache_clear()
