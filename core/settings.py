"""Process settings, read from the environment (prefix PORTAL_) once per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-only-secret-change-me-in-production-0123456789"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    # The two service URLs keep their conventional names; PORTAL_-prefixed forms also work.
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL", "PORTAL_DATABASE_URL"))
    # Optional read replica for GraphQL queries; a request that wrote reads the primary afterwards.
    database_read_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_READ_URL", "PORTAL_DATABASE_READ_URL")
    )
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "PORTAL_REDIS_URL"))
    data_dir: Path = PROJECT_ROOT / ".data"
    host: str = "127.0.0.1"
    port: int = 8000
    # API processes of `portal serve`; GraphQL resolution is CPU-bound, so about one per core.
    web_workers: int = 1

    secret_key: str = DEV_SECRET
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_days: int = 30
    otp_ttl_seconds: int = 5 * 60
    otp_max_attempts: int = 5
    otp_per_minute: int = 1
    otp_per_day: int = 10
    # Sign-in code requests per client address and for the whole service (Redis windows), on top
    # of the per-phone limits above: one client once asked codes for 30 phones in 1.1 s. Mobile
    # carriers put many patients behind one address (CGNAT), so the per-address limits are loose.
    otp_per_client_per_minute: int = 10
    otp_per_client_per_hour: int = 100
    otp_global_per_minute: int = 600
    # Failed staff sign-ins per (e-mail, client address) before that pair waits
    # staff_lockout_minutes; and per client address across all e-mails per hour.
    staff_max_failed_logins: int = 5
    staff_failed_per_client_per_hour: int = 50
    staff_lockout_minutes: int = 15

    default_timezone: str = "Asia/Shanghai"
    brand_name: str = "康宁医疗"
    # SMS: "aliyun" / "tencent" send (their keys and templates: messaging/config.py).
    sms_provider: Literal["dev", "aliyun", "tencent"] = "dev"

    # messaging: "dev" providers record what would be sent (dev_messages); "smtp" sends e-mail.
    email_provider: Literal["dev", "smtp"] = "dev"
    wechat_provider: Literal["dev", "api"] = "dev"  # "api": the WeChat server API (messaging/config.py)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_sender: str = "noreply@example.com"
    smtp_starttls: bool | None = None  # None: STARTTLS if the server offers it; port 465 means implicit TLS
    smtp_timeout_seconds: float = 15
    # Tracked links and the e-mail open pixel. Unset: http://<host>:<port> of this process (a moved
    # PORTAL_PORT used to leave links pointing at 8000); set it behind a proxy or a public domain.
    public_base_url: str = "http://127.0.0.1:8000"
    # Browser origins allowed to call the API from another site (CORS), comma-separated, e.g.
    # "https://app.example.cn,https://console.example.cn". Empty: no CORS headers at all.
    cors_origins: str = ""

    graphiql: bool | None = None  # None: on outside production
    max_query_depth: int = 12
    max_query_tokens: int = 3000
    max_query_aliases: int = 20
    max_page_size: int = 100
    # Static cost of one operation (api/cost.py: a field 1, a list its page size times its selection).
    # Screen queries cost up to about 10,000 (a page of 20 complaints with their histories counts
    # 100 for each unpaged list); a group feed of 20 posts with 20 comments each about 2,500.
    max_query_cost: int = 20_000
    # A GraphQL request body (query + variables) above this is refused with 413 before parsing.
    max_request_bytes: int = 256 * 1024

    # Pool per process (API process, worker): pool_size + max_overflow connections at most, so
    # PostgreSQL's max_connections must cover (web_workers + worker processes) x (size + overflow).
    # A request holds at most one connection at a time (core/db.py RequestDB), so a process serves
    # size + overflow requests at once; more wait up to db_pool_timeout_seconds, then get a 503.
    db_pool_size: int = 10
    # GraphQL requests executing at once per API process; the rest wait in arrival order (0: no gate).
    # The event loop shares its time among every request in flight, so 64 at once all finish late and
    # some very late (p99 1.4 s at p50 0.3 s); a few at a time finish in turn, with the same throughput.
    max_concurrent_requests: int = 8
    # A request that waited this long for its turn gets a 503 with Retry-After (overload, not a stall).
    request_queue_timeout_seconds: float = 10
    db_max_overflow: int = 20
    db_pool_timeout_seconds: float = 5
    db_connect_timeout_seconds: float = 5
    db_pool_pre_ping: bool = False
    db_echo: bool = False
    log_level: str = "INFO"
    # None: readable console lines in development, JSON lines (for the log collector) elsewhere.
    log_json: bool | None = None

    outbox_max_attempts: int = 8
    # on-call: an unacknowledged staff page escalates one level after this many minutes
    # (PORTAL_PAGE_ESCALATE_AFTER_MINUTES; level 3, all admins, is the last).
    page_escalate_after_minutes: int = Field(default=5, ge=1)
    # A running job's claim in Redis lives this long and is renewed while the job runs: a worker
    # killed mid-job frees its jobs for another worker after at most this many seconds.
    job_lease_seconds: int = 60
    # Notification centre retention (social/retention.py, a daily cron): read notifications are deleted
    # this many days after their last activity, every other one after the second number.
    notification_read_retention_days: int = Field(default=90, ge=1)
    notification_retention_days: int = Field(default=365, ge=1)

    # loyalty
    his_webhook_secret: str = "dev-his-shared-secret"  # DEV_HIS_SECRET; refused in production
    his_webhook_max_skew_seconds: int = 300
    points_expiry_months: int = 12
    points_expiry_notice_days: int = 30
    dormant_after_days: int = 180
    loyal_visits_per_year: int = 4
    referral_monthly_cap: int = 10
    settle_batch_size: int = 10_000

    @model_validator(mode="after")
    def _public_base_url_follows_address(self) -> Settings:
        if "public_base_url" not in self.model_fields_set:
            host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
            host = f"[{host}]" if ":" in host else host  # an IPv6 address in a URL
            self.public_base_url = f"http://{host}:{self.port}"
        return self

    @property
    def log_as_json(self) -> bool:
        return self.log_json if self.log_json is not None else self.env != "development"

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else self.env != "production"

    def require_database_url(self) -> str:
        if not self.database_url:
            raise RuntimeError("DATABASE_URL is not set (portal run/test start an embedded PostgreSQL)")
        return self.database_url

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise RuntimeError("REDIS_URL is not set (portal run/test start an embedded Redis)")
        return self.redis_url


DEV_HIS_SECRET = "dev-his-shared-secret"
MIN_SECRET_LENGTH = 32


class UnsafeSettings(RuntimeError):
    """Production refuses to start on development defaults; one line per problem."""


def production_problems(settings: Settings) -> list[str]:
    """Why these settings must not serve patients (empty when they may)."""
    problems: list[str] = []
    secrets = (
        ("PORTAL_SECRET_KEY", settings.secret_key, DEV_SECRET, "signs every access token"),
        (
            "PORTAL_HIS_WEBHOOK_SECRET",
            settings.his_webhook_secret,
            DEV_HIS_SECRET,
            "anyone could forge visits and mint points",
        ),
    )
    for name, value, default, why in secrets:
        if value == default:
            problems.append(f"{name} is the public development default ({why}): set a random secret")
        elif len(value) < MIN_SECRET_LENGTH:
            problems.append(f"{name} is shorter than {MIN_SECRET_LENGTH} characters ({why})")
    for name, value in (
        ("PORTAL_SMS_PROVIDER", settings.sms_provider),
        ("PORTAL_WECHAT_PROVIDER", settings.wechat_provider),
        ("PORTAL_EMAIL_PROVIDER", settings.email_provider),
    ):
        if value == "dev":
            problems.append(f"{name}=dev only records messages: patients would never receive them")
    if settings.graphiql_enabled:
        problems.append("PORTAL_GRAPHIQL is on: the schema explorer and introspection are for development")
    return problems


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    settings = Settings()
    if settings.env == "production":
        problems = production_problems(settings)
        if problems:
            raise UnsafeSettings("refusing to start in production:\n" + "\n".join(f"- {p}" for p in problems))
    return settings


def reset_settings() -> None:
    get_settings.cache_clear()
