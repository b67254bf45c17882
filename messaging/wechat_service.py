"""WeChat bindings and one-time subscribe authorisations (rules; the HTTP client is messaging.wechat).

- A patient binds the openid the mini program's login code resolves to (one per app); binding an
  openid that another patient holds moves it: the WeChat user now signed in owns it.
- Mini-program subscribe messages need a one-time authorisation per message (一次性订阅). The app
  reports every accepted template; each report is one grant. A send spends exactly one grant in
  the sending transaction (UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED)), so two
  concurrent sends never spend the same grant; without a grant nothing is sent to WeChat.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.admission import step_aside
from core.errors import Validator
from core.identity import Actor
from core.ids import new_id
from core.settings import get_settings
from messaging import errors, wechat
from messaging.config import WechatTemplate, get_messaging_settings
from messaging.errors import MessagingCode as Code
from messaging.models import WechatBinding, WechatGrant


class WechatApp(enum.StrEnum):
    MINI_PROGRAM = "mini_program"
    OFFICIAL_ACCOUNT = "official_account"


MAX_CODE_LENGTH = 128
MAX_TEMPLATES_PER_REPORT = 10
MAX_UNUSED_PER_TEMPLATE = 50  # a client reporting in a loop cannot pile up unbounded grants


def _app(value: str | None) -> wechat.App:
    if value in (None, "", "mini_program"):
        return "mini_program"
    if value == "official_account":
        return "official_account"
    raise errors.WechatNotConfigured("未知的微信应用", field="app")


async def resolve_code(actor: Actor, *, code: str, app: str | None = None) -> wechat.Identity:
    """Exchange the app's login code for the openid (no database: call before the unit of work)."""
    actor.require_patient()
    v = Validator()
    code = (code or "").strip()
    v.check(0 < len(code) <= MAX_CODE_LENGTH, "code", errors.WechatCodeInvalid.code, "请提供微信登录凭证 code")
    v.raise_if_any()
    which = _app(app)
    if get_messaging_settings().wechat_provider != "api":
        raise errors.WechatNotConfigured()
    try:
        async with step_aside():  # an outside service: other requests go on meanwhile
            return await wechat.exchange_code(which, code)
    except wechat.WechatConfigError as exc:
        raise errors.WechatNotConfigured() from exc
    except wechat.WechatApiError as exc:
        if exc.errcode in (40029, 40163, 40125, 40226):  # invalid / used code, bad appsecret, risky user
            raise errors.WechatCodeInvalid(field="code") from exc
        raise errors.WechatUnavailable() from exc
    except httpx.HTTPError as exc:
        raise errors.WechatUnavailable() from exc


async def bind(session: AsyncSession, actor: Actor, identity: wechat.Identity) -> WechatBinding:
    patient_id = actor.require_patient()
    # Whoever held this openid before loses it (same WeChat user, other account).
    await session.execute(
        delete(WechatBinding).where(
            WechatBinding.app_id == identity.app_id,
            WechatBinding.openid == identity.openid,
            WechatBinding.patient_id != patient_id,
        )
    )
    stmt = insert(WechatBinding).values(
        id=new_id(),
        patient_id=patient_id,
        app=identity.app,
        app_id=identity.app_id,
        openid=identity.openid,
        unionid=identity.unionid,
        created_at=clock.now(),
    )
    await session.execute(
        stmt.on_conflict_do_update(
            constraint="uq_wechat_bindings_patient_app",
            set_={"app_id": stmt.excluded.app_id, "openid": stmt.excluded.openid, "unionid": stmt.excluded.unionid},
        )
    )
    row = await session.scalar(
        select(WechatBinding)
        .where(WechatBinding.patient_id == patient_id, WechatBinding.app == identity.app)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def unbind(session: AsyncSession, actor: Actor, *, app: str | None = None) -> None:
    patient_id = actor.require_patient()
    which = _app(app)
    removed = await session.scalar(
        delete(WechatBinding)
        .where(WechatBinding.patient_id == patient_id, WechatBinding.app == which)
        .returning(WechatBinding.id)
    )
    if removed is None:
        raise errors.WechatNotBound()
    if which == "mini_program":  # grants belong to the openid that gave them
        await session.execute(
            delete(WechatGrant).where(WechatGrant.patient_id == patient_id, WechatGrant.used_at.is_(None))
        )


async def my_bindings(session: AsyncSession, actor: Actor) -> list[WechatBinding]:
    patient_id = actor.require_patient()
    return list(
        await session.scalars(
            select(WechatBinding).where(WechatBinding.patient_id == patient_id).order_by(WechatBinding.app)
        )
    )


async def binding_of(session: AsyncSession, patient_id: uuid.UUID, app: str) -> WechatBinding | None:
    return await session.scalar(
        select(WechatBinding).where(WechatBinding.patient_id == patient_id, WechatBinding.app == app)
    )


async def drop_binding(session: AsyncSession, patient_id: uuid.UUID, app: str, openid: str) -> None:
    """WeChat said the openid is invalid (40003): forget it, so no later message tries it."""
    await session.execute(
        delete(WechatBinding).where(
            WechatBinding.patient_id == patient_id, WechatBinding.app == app, WechatBinding.openid == openid
        )
    )


def known_template_ids() -> set[str]:
    return {t.template_id for t in get_messaging_settings().wechat_templates.values()}


async def record_grants(session: AsyncSession, actor: Actor, template_ids: Sequence[str]) -> dict[str, int]:
    """One grant per accepted template the app reports; returns the unused count per template."""
    patient_id = actor.require_patient()
    v = Validator()
    v.check(bool(template_ids), "templateIds", Code.WECHAT_TEMPLATES_EMPTY, "请至少提交一个订阅消息模板")
    v.check(
        len(template_ids) <= MAX_TEMPLATES_PER_REPORT,
        "templateIds",
        Code.WECHAT_TEMPLATES_TOO_MANY,
        f"一次最多提交{MAX_TEMPLATES_PER_REPORT}个模板",
    )
    v.raise_if_any()
    known = known_template_ids()
    for i, template_id in enumerate(template_ids):
        if template_id not in known:
            raise errors.WechatTemplateUnknown(field=f"templateIds.{i}")
    if await binding_of(session, patient_id, "mini_program") is None:
        raise errors.WechatNotBound("请先绑定微信再订阅消息", field="templateIds")
    # Serialise reports of one patient so the per-template cap holds.
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"wx:{patient_id}"})
    counts = await unused_counts(session, patient_id)
    now = clock.now()
    rows: list[dict[str, Any]] = []
    for template_id in template_ids:
        if counts.get(template_id, 0) < MAX_UNUSED_PER_TEMPLATE:
            counts[template_id] = counts.get(template_id, 0) + 1
            rows.append({"id": new_id(), "patient_id": patient_id, "template_id": template_id, "granted_at": now})
    if rows:
        await session.execute(insert(WechatGrant), rows)
    return {t: counts.get(t, 0) for t in sorted(known)}


async def unused_counts(session: AsyncSession, patient_id: uuid.UUID) -> dict[str, int]:
    rows = await session.execute(
        select(WechatGrant.template_id, func.count())
        .where(WechatGrant.patient_id == patient_id, WechatGrant.used_at.is_(None))
        .group_by(WechatGrant.template_id)
    )
    return {t: int(n) for t, n in rows.all()}


async def my_subscriptions(session: AsyncSession, actor: Actor) -> dict[str, int]:
    patient_id = actor.require_patient()
    counts = await unused_counts(session, patient_id)
    return {t: counts.get(t, 0) for t in sorted(known_template_ids())}


_SPEND = text(
    """
    UPDATE wechat_grants SET used_at = :now, used_by = :delivery
    WHERE id = (
        SELECT id FROM wechat_grants
        WHERE patient_id = :patient AND template_id = :template AND used_at IS NULL
        ORDER BY granted_at, id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id
    """
)


async def spend_grant(
    session: AsyncSession, *, patient_id: uuid.UUID, template_id: str, delivery_id: uuid.UUID
) -> bool:
    """Spend one unused grant for this template (False when none is left)."""
    spent = await session.scalar(
        _SPEND, {"now": clock.now(), "delivery": delivery_id, "patient": patient_id, "template": template_id}
    )
    return spent is not None


_THING_LIMITS = {"thing": 20, "phrase": 5, "name": 10, "character_string": 32, "number": 32, "letter": 32}


def template_data(
    template: WechatTemplate, *, subject: str | None, body: str, link: str | None, at: datetime, brand: str
) -> dict[str, str]:
    """The template's data fields filled from the message, cut to WeChat's length per field type
    (thing 20 characters, phrase 5, name 10 ...); `=text` is a literal."""
    local = at.astimezone(ZoneInfo(get_settings().default_timezone))
    sources = {
        "subject": subject or brand,
        "body": body,
        "link": link or "",
        "brand": brand,
        "date": local.strftime("%Y年%m月%d日"),
        "time": local.strftime("%Y-%m-%d %H:%M"),
    }
    data: dict[str, str] = {}
    for key, source in template.fields.items():
        value = source[1:] if source.startswith("=") else sources.get(source, "")
        kind = key.rstrip("0123456789")
        limit = _THING_LIMITS.get(kind)
        if limit and len(value) > limit:
            value = value[: limit - 1] + "…" if kind == "thing" else value[:limit]
        data[key] = value
    return data
