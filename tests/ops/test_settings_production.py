"""Production refuses unsafe settings at start-up, one clear line per problem (issue 11)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core.settings import Settings, UnsafeSettings, production_problems
from tests.live_server import ROOT

SAFE = {
    "env": "production",
    "secret_key": "s" * 48,
    "his_webhook_secret": "h" * 40,
    "sms_provider": "dev",
    "wechat_provider": "dev",
    "email_provider": "smtp",
    "graphiql": False,
}


def _problems(**overrides: object) -> list[str]:
    return production_problems(Settings(**{**SAFE, **overrides}))  # type: ignore[arg-type]


def test_development_defaults_are_each_named() -> None:
    problems = production_problems(Settings(env="production"))
    text = "\n".join(problems)
    for name in ("PORTAL_SECRET_KEY", "PORTAL_HIS_WEBHOOK_SECRET", "PORTAL_SMS_PROVIDER", "PORTAL_WECHAT_PROVIDER"):
        assert name in text
    assert "PORTAL_EMAIL_PROVIDER" in text and "PORTAL_GRAPHIQL" not in text  # off by default there


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ({"secret_key": "short-secret"}, "PORTAL_SECRET_KEY is shorter"),
        (
            {"his_webhook_secret": "dev-his-shared-secret"},
            "PORTAL_HIS_WEBHOOK_SECRET is the public development default",
        ),
        ({"his_webhook_secret": "x" * 10}, "PORTAL_HIS_WEBHOOK_SECRET is shorter"),
        ({"graphiql": True}, "PORTAL_GRAPHIQL"),
        ({"email_provider": "dev"}, "PORTAL_EMAIL_PROVIDER=dev"),
    ],
)
def test_each_unsafe_setting_is_refused(override: dict[str, object], needle: str) -> None:
    assert any(needle in p for p in _problems(**override))


def test_graphiql_defaults_off_in_production() -> None:
    assert not Settings(env="production").graphiql_enabled


def test_the_api_process_refuses_to_start_with_one_line_per_problem() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update({"PORTAL_ENV": "production", "DATABASE_URL": "postgresql+asyncpg://x@127.0.0.1:1/x"})
    result = subprocess.run(
        [sys.executable, "-c", "from core.settings import get_settings; get_settings()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert UnsafeSettings.__name__ in result.stderr
    assert "- PORTAL_SECRET_KEY is the public development default" in result.stderr
