"""Front desk: find a patient by phone (the number as the API shows it to this role: masked for most
staff), their points, tier and vouchers; fulfil a voucher by its code; record a visit; adjust points with
a reason (the ledger allows that to admins only, so only they see the form)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import Response
from starlette.routing import Route

from console.menu import FRONT_DESK
from console.web import Console, staff_page
from core import clock
from core.identity import Role

PATIENT = """query ConsoleFindPatient($phone: String!) { patients(phone: $phone, first: 1) { nodes {
  id nickname phone realName birthYear gender homeSite { name } lifecycleStage
  points { available pending owed lifetimeEarned expiringSoon { amount expiresAt } }
  tier { name benefits progress { qualifyingPoints pointsToNext nextTier { name } graceUntil } }
  pointsHistory(first: 10) { nodes { kind amount memo createdAt } } } } }"""
VOUCHERS = """query ConsoleVouchers($phone: String!) { patients(phone: $phone, first: 1) { nodes {
  redemptions(first: 20) { nodes { id voucherCode status points createdAt expiresAt fulfilledAt
    reward { name category } } } } } }"""
SITES = """query ConsoleSites { me { ... on Staff { site { id } } } sites(first: 50) { nodes { id name } } }"""
FULFIL = """mutation ConsoleFulfil($input: RedemptionFulfilInput!) { redemptionFulfil(input: $input) {
  redemption { voucherCode status points reward { name } } errors { field code message } } }"""
VISIT = """mutation ConsoleVisit($input: VisitRecordInput!) { visitRecord(input: $input) {
  visit { id department visitedAt } result errors { field code message } } }"""
ADJUST = """mutation ConsoleAdjust($input: PointsAdjustInput!) { pointsAdjust(input: $input) {
  entry { amount memo } errors { field code message } } }"""

ZONE = ZoneInfo("Asia/Shanghai")
ITEM_CATEGORIES = {
    "registration": "挂号",
    "consultation": "诊疗",
    "exam": "检查",
    "lab": "检验",
    "imaging": "影像",
    "drug": "药品",
    "therapy": "治疗",
}
ITEM_ROWS = 3
VOUCHER_STATUS = {"ISSUED": "待核销", "FULFILLED": "已核销", "CANCELLED": "已取消", "EXPIRED": "已过期"}


def _fen(value: str | None) -> int | None:
    """Yuan as typed (12.5) to fen; None when it is not a plain amount."""
    text = (value or "").strip()
    if not text:
        return 0
    try:
        yuan = float(text)
    except ValueError:
        return None
    if yuan < 0 or yuan > 10_000_000:
        return None
    return round(yuan * 100)


def _local_iso(value: str | None) -> str | None:
    """<input type=datetime-local> (Asia/Shanghai wall time) to an ISO moment with its offset."""
    try:
        moment = datetime.fromisoformat((value or "").strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=ZONE).isoformat() if moment.tzinfo is None else moment.isoformat()


async def _sites(c: Console) -> tuple[list[dict[str, Any]], str | None]:
    result = await c.run(SITES)
    me = result.data.get("me") or {}
    mine = (me.get("site") or {}).get("id")
    return (result.data.get("sites") or {}).get("nodes") or [], mine


@staff_page(*FRONT_DESK)
async def desk(c: Console) -> Response:
    phone = c.request.query_params.get("phone", "").strip()[:32]
    patient: dict[str, Any] | None = None
    vouchers: list[dict[str, Any]] = []
    errors: list[Any] = []
    if phone:
        found = await c.run(PATIENT, {"phone": phone})
        errors += found.errors
        nodes = (found.data.get("patients") or {}).get("nodes") or []
        patient = nodes[0] if nodes else None
        if patient is not None and c.can(Role.CLINIC_STAFF):
            listed = await c.run(VOUCHERS, {"phone": phone})
            errors += listed.errors
            vouchers = (((listed.data.get("patients") or {}).get("nodes") or [{}])[0].get("redemptions") or {}).get(
                "nodes"
            ) or []
    sites, my_site = await _sites(c)
    return await c.render(
        "frontdesk/desk.html",
        phone=phone,
        patient=patient,
        vouchers=vouchers,
        voucher_status=VOUCHER_STATUS,
        sites=sites,
        my_site=my_site,
        item_categories=ITEM_CATEGORIES,
        item_rows=range(ITEM_ROWS),
        visit_key=f"DESK-{clock.now().astimezone(ZONE):%Y%m%d}-{secrets.token_hex(4).upper()}",
        adjust_key=secrets.token_hex(12),
        now_local=clock.now().astimezone(ZONE).strftime("%Y-%m-%dT%H:%M"),
        searched=bool(phone),
        errors=errors,
    )


def _back(c: Console, phone: str) -> Response:
    digits = "".join(ch for ch in phone if ch.isdigit())[:15]
    return c.redirect("/console/frontdesk" + (f"?phone={digits}" if digits else ""))


@staff_page(*FRONT_DESK)
async def fulfil(c: Console) -> Response:
    form = await c.form()
    code = form.get("voucherCode", "").upper()
    result = await c.run(FULFIL, {"input": {"voucherCode": code, "siteId": form.get("siteId", "")}})
    payload, errors = result.payload("redemptionFulfil")
    if errors:
        await c.flash_errors(errors)
    else:
        redemption = (payload or {}).get("redemption") or {}
        name = (redemption.get("reward") or {}).get("name", "")
        await c.flash(f"已核销兑换券 {redemption.get('voucherCode', code)}：{name}")
    return _back(c, form.get("phone", ""))


@staff_page(*FRONT_DESK)
async def visit(c: Console) -> Response:
    form = await c.form()
    lists = await c.form_lists()
    items = []
    categories, paid, insured = lists.get("category", []), lists.get("selfPaid", []), lists.get("insured", [])
    for i, category in enumerate(categories):
        self_paid = _fen(paid[i] if i < len(paid) else "")
        covered = _fen(insured[i] if i < len(insured) else "")
        if self_paid is None or covered is None:
            await c.flash("金额格式不正确（单位：元）", "error")
            return _back(c, form.get("phone", ""))
        if category in ITEM_CATEGORIES and (self_paid or covered):
            items.append({"category": category, "selfPaidFen": self_paid, "insuredFen": covered})
    visited_at = _local_iso(form.get("visitedAt"))
    if visited_at is None:
        await c.flash("请填写就诊时间", "error")
        return _back(c, form.get("phone", ""))
    payload: dict[str, Any] = {
        "externalId": form.get("externalId", ""),
        "siteId": form.get("siteId", ""),
        "department": form.get("department", ""),
        "visitedAt": visited_at,
        "items": items,
        "patientId": form.get("patientId") or None,
    }
    result = await c.run(VISIT, {"input": payload})
    answer, errors = result.payload("visitRecord")
    if errors:
        await c.flash_errors(errors)
    else:
        done = (answer or {}).get("result")
        await c.flash("已记录就诊" if done == "created" else f"就诊记录：{done}")
    return _back(c, form.get("phone", ""))


@staff_page(Role.ADMIN)
async def adjust(c: Console) -> Response:
    form = await c.form()
    amount = form.get("amount", "")
    payload = {
        "patientId": form.get("patientId", ""),
        "amount": int(amount) if amount.lstrip("-").isdigit() and len(amount) < 10 else 0,
        "reason": form.get("reason", ""),
        "idempotencyKey": form.get("idempotencyKey", ""),
    }
    result = await c.run(ADJUST, {"input": payload})
    _, errors = result.payload("pointsAdjust")
    if errors:
        await c.flash_errors(errors)
    else:
        await c.flash(f"已调整积分 {payload['amount']:+d}：{payload['reason']}")
    return _back(c, form.get("phone", ""))


ROUTES = [
    Route("/frontdesk", desk, methods=["GET"]),
    Route("/frontdesk/fulfil", fulfil, methods=["POST"]),
    Route("/frontdesk/visit", visit, methods=["POST"]),
    Route("/frontdesk/adjust", adjust, methods=["POST"]),
]
