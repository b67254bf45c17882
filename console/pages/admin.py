"""Admins: staff accounts (create, roles, disable/enable), tiers and their benefits, earning rules,
rewards, and the PHI read audit (every staff read of health data, the console's included)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import Response
from starlette.routing import Route

from console.menu import ADMIN
from console.web import Console, staff_page
from core.identity import ROLE_LABELS_ZH, Role

ZONE = ZoneInfo("Asia/Shanghai")
STAFF = """query ConsoleStaff($after: String) { staffMembers(first: 50, after: $after) {
  nodes { id name email active roles roleLabels site { id name } } pageInfo { hasNextPage endCursor } }
  sites(first: 50) { nodes { id name } } }"""
STAFF_CREATE = """mutation ConsoleStaffCreate($input: StaffCreateInput!) { staffCreate(input: $input) {
  staff { id name } errors { field code message } } }"""
STAFF_ROLES = """mutation ConsoleStaffRoles($input: StaffSetRolesInput!) { staffSetRoles(input: $input) {
  staff { id } errors { field code message } } }"""
STAFF_ACTIVE = """mutation ConsoleStaffActive($input: StaffActiveInput!) {{ {name}(input: $input) {{
  staff {{ id active }} errors {{ field code message }} }} }}"""
TIERS = """query ConsoleTiers { tiers { code name rank minPoints birthdayMultiplier priorityBooking perks benefits
  monthlyVoucherRewardId }
  earningRules { code name description points fenPerPoint dailyCap monthlyCap pendingDays active } }"""
TIER_UPDATE = """mutation ConsoleTierUpdate($input: TierBenefitsUpdateInput!) { tierBenefitsUpdate(input: $input) {
  errors { field code message } } }"""
RULE_UPDATE = """mutation ConsoleRuleUpdate($input: EarningRuleUpdateInput!) { earningRuleUpdate(input: $input) {
  errors { field code message } } }"""
REWARDS = """query ConsoleRewards($after: String) { rewards(first: 50, after: $after, includeInactive: true) {
  nodes { id name description category categoryLabel pointsCost stock tierRequired perMemberLimit active }
  pageInfo { hasNextPage endCursor } } tiers { code name } }"""
REWARD_CREATE = """mutation ConsoleRewardCreate($input: RewardInput!) { rewardCreate(input: $input) {
  reward { id name } errors { field code message } } }"""
REWARD_UPDATE = """mutation ConsoleRewardUpdate($input: RewardUpdateInput!) { rewardUpdate(input: $input) {
  reward { id name } errors { field code message } } }"""
SITES = """query ConsoleSitesAdmin { sites(first: 50) { nodes { id code name kindLabel address phone } } }"""
SITE_CREATE = """mutation ConsoleSiteCreate($input: SiteCreateInput!) { siteCreate(input: $input) {
  site { id name } errors { field code message } } }"""
PHI = """query ConsolePhiReads($kind: PhiKind, $since: DateTime, $after: String) {
  phiReadLog(kind: $kind, since: $since, first: 50, after: $after) {
    nodes { id kindLabel readAt through staffRoleLabels staff { name } patient { nickname } }
    pageInfo { hasNextPage endCursor } } }"""

CATEGORIES = {"gift": "实物礼品", "service_voucher": "服务券", "discount": "优惠券", "checkup": "体检"}
PHI_KINDS = {
    "CONDITIONS": "病种",
    "CHECKINS": "打卡",
    "VISITS": "就诊",
    "COMPLAINTS": "投诉",
    "SURVEY_ANSWERS": "调查答卷",
    "CONVERSATIONS": "护理咨询",
}


def _int(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.lstrip("-").isdigit() and len(text) < 10 else None


def _roles(values: list[str]) -> list[str]:
    return [r.name for r in Role if r.name in values]


async def _done(c: Console, result: Any, name: str, text: str, back: str) -> Response:
    _, errors = result.payload(name)
    await (c.flash_errors(errors) if errors else c.flash(text))
    return c.redirect(back)


@staff_page(*ADMIN)
async def staff(c: Console) -> Response:
    result = await c.run(STAFF, {"after": c.request.query_params.get("after") or None})
    connection = result.data.get("staffMembers") or {"nodes": [], "pageInfo": {}}
    return await c.render(
        "admin/staff.html",
        members=connection["nodes"],
        page_info=connection["pageInfo"],
        sites=(result.data.get("sites") or {}).get("nodes") or [],
        roles={r.name: ROLE_LABELS_ZH[r] for r in Role},
        errors=result.errors,
    )


@staff_page(*ADMIN)
async def staff_create(c: Console) -> Response:
    form, lists = await c.form(), await c.form_lists()
    variables = {
        "email": form.get("email", ""),
        "name": form.get("name", ""),
        "password": form.get("password", ""),
        "roles": _roles(lists.get("roles", [])),
        "siteId": form.get("siteId") or None,
    }
    result = await c.run(STAFF_CREATE, {"input": variables})
    return await _done(c, result, "staffCreate", f"已创建员工账号 {variables['email']}", "/console/admin/staff")


@staff_page(*ADMIN)
async def staff_roles(c: Console) -> Response:
    form, lists = await c.form(), await c.form_lists()
    variables = {"staffId": form.get("staffId", ""), "roles": _roles(lists.get("roles", []))}
    result = await c.run(STAFF_ROLES, {"input": variables})
    return await _done(c, result, "staffSetRoles", "已更新角色", "/console/admin/staff")


@staff_page(*ADMIN)
async def staff_active(c: Console) -> Response:
    form = await c.form()
    name = "staffEnable" if form.get("active") == "1" else "staffDisable"
    result = await c.run(STAFF_ACTIVE.format(name=name), {"input": {"staffId": form.get("staffId", "")}})
    done = "已启用账号" if name == "staffEnable" else "已停用账号（其登录立即失效）"
    return await _done(c, result, name, done, "/console/admin/staff")


@staff_page(*ADMIN)
async def tiers(c: Console) -> Response:
    result = await c.run(TIERS)
    return await c.render(
        "admin/tiers.html",
        tiers=result.data.get("tiers") or [],
        rules=result.data.get("earningRules") or [],
        errors=result.errors,
    )


@staff_page(*ADMIN)
async def tier_update(c: Console) -> Response:
    form = await c.form()
    perks = [line.strip() for line in form.get("perks", "").splitlines() if line.strip()]
    variables = {
        "code": form.get("code", ""),
        "birthdayMultiplier": _int(form.get("birthdayMultiplier")),
        "priorityBooking": form.get("priorityBooking") == "1",
        "perks": perks,
    }
    result = await c.run(TIER_UPDATE, {"input": variables})
    return await _done(c, result, "tierBenefitsUpdate", "已更新会员等级权益", "/console/admin/tiers")


@staff_page(*ADMIN)
async def rule_update(c: Console) -> Response:
    form = await c.form()
    variables: dict[str, Any] = {
        "code": form.get("code", ""),
        "points": _int(form.get("points")),
        "dailyCap": _int(form.get("dailyCap")),
        "monthlyCap": _int(form.get("monthlyCap")),
        "clearDailyCap": not form.get("dailyCap"),
        "clearMonthlyCap": not form.get("monthlyCap"),
        "active": form.get("active") == "1",
    }
    result = await c.run(RULE_UPDATE, {"input": variables})
    return await _done(c, result, "earningRuleUpdate", "已更新积分规则", "/console/admin/tiers")


@staff_page(*ADMIN)
async def rewards(c: Console) -> Response:
    result = await c.run(REWARDS, {"after": c.request.query_params.get("after") or None})
    connection = result.data.get("rewards") or {"nodes": [], "pageInfo": {}}
    return await c.render(
        "admin/rewards.html",
        rewards=connection["nodes"],
        page_info=connection["pageInfo"],
        tiers=result.data.get("tiers") or [],
        categories=CATEGORIES,
        errors=result.errors,
    )


def _reward(form: dict[str, str]) -> dict[str, Any]:
    return {
        "name": form.get("name", ""),
        "description": form.get("description", ""),
        "category": form.get("category", ""),
        "pointsCost": _int(form.get("pointsCost")) or 0,
        "stock": _int(form.get("stock")),
        "tierRequired": form.get("tierRequired") or None,
        "perMemberLimit": _int(form.get("perMemberLimit")),
        "voucherValidDays": _int(form.get("voucherValidDays")) or 90,
        "active": form.get("active", "1") == "1",
    }


@staff_page(*ADMIN)
async def reward_create(c: Console) -> Response:
    form = await c.form()
    result = await c.run(REWARD_CREATE, {"input": _reward(form)})
    return await _done(c, result, "rewardCreate", f"已上架奖品「{form.get('name', '')}」", "/console/admin/rewards")


@staff_page(*ADMIN)
async def reward_update(c: Console) -> Response:
    form = await c.form()
    result = await c.run(REWARD_UPDATE, {"input": {"rewardId": form.get("rewardId", ""), "reward": _reward(form)}})
    return await _done(c, result, "rewardUpdate", "已更新奖品", "/console/admin/rewards")


@staff_page(*ADMIN)
async def phi_reads(c: Console) -> Response:
    params = c.request.query_params
    kind = params.get("kind") if params.get("kind") in PHI_KINDS else None
    since = None
    if params.get("since"):
        try:
            since = datetime.fromisoformat(params["since"]).replace(tzinfo=ZONE).isoformat()
        except ValueError:
            since = None
    result = await c.run(PHI, {"kind": kind, "since": since, "after": params.get("after") or None})
    connection = result.data.get("phiReadLog") or {"nodes": [], "pageInfo": {}}
    return await c.render(
        "admin/phi.html",
        reads=connection["nodes"],
        page_info=connection["pageInfo"],
        kinds=PHI_KINDS,
        kind=kind,
        since=params.get("since", ""),
        errors=result.errors,
    )


@staff_page(*ADMIN)
async def sites(c: Console) -> Response:
    result = await c.run(SITES)
    return await c.render(
        "admin/sites.html", sites=(result.data.get("sites") or {}).get("nodes") or [], errors=result.errors
    )


@staff_page(*ADMIN)
async def site_create(c: Console) -> Response:
    form = await c.form()
    variables = {
        "code": form.get("code", ""),
        "name": form.get("name", ""),
        "kind": form.get("kind") if form.get("kind") in ("CAMPUS", "CLINIC") else "CLINIC",
        "address": form.get("address") or None,
        "phone": form.get("phone") or None,
    }
    result = await c.run(SITE_CREATE, {"input": variables})
    return await _done(c, result, "siteCreate", f"已添加院区「{variables['name']}」", "/console/admin/sites")


ROUTES = [
    Route("/admin/sites", sites, methods=["GET"]),
    Route("/admin/sites/new", site_create, methods=["POST"]),
    Route("/admin/staff", staff, methods=["GET"]),
    Route("/admin/staff/new", staff_create, methods=["POST"]),
    Route("/admin/staff/roles", staff_roles, methods=["POST"]),
    Route("/admin/staff/active", staff_active, methods=["POST"]),
    Route("/admin/tiers", tiers, methods=["GET"]),
    Route("/admin/tiers/update", tier_update, methods=["POST"]),
    Route("/admin/rules/update", rule_update, methods=["POST"]),
    Route("/admin/rewards", rewards, methods=["GET"]),
    Route("/admin/rewards/new", reward_create, methods=["POST"]),
    Route("/admin/rewards/update", reward_update, methods=["POST"]),
    Route("/admin/phi", phi_reads, methods=["GET"]),
]
