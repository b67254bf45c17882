"""On duty: the roster of the coming week (every staff member), the signed-in member's on-call pages to
acknowledge, and for admins adding and removing shifts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import Response
from starlette.routing import Route

from console.menu import ADMIN, EVERYONE
from console.web import Console, staff_page
from core import clock
from core.identity import ROLE_LABELS_ZH, Role

ZONE = ZoneInfo("Asia/Shanghai")
ROSTER = """query ConsoleRoster($from: DateTime!, $to: DateTime!) { dutyRoster(from: $from, to: $to) {
  id roleLabel role startsAt endsAt staff { name } site { name } } }"""
PAGES = """query ConsoleOnCallPages { myPages(first: 20, unacknowledgedOnly: true) {
  nodes { id number kind subject body level createdAt escalatesAt } } }"""
FORM = """query ConsoleShiftForm { staffMembers(first: 100) { nodes { id name active } }
  sites(first: 50) { nodes { id name } } }"""
CREATE = """mutation ConsoleShiftCreate($input: DutyShiftCreateInput!) { dutyShiftCreate(input: $input) {
  errors { field code message } } }"""
REMOVE = """mutation ConsoleShiftRemove($input: DutyShiftRemoveInput!) { dutyShiftRemove(input: $input) {
  errors { field code message } } }"""
DAYS = 7


def _moment(value: str | None) -> str | None:
    try:
        return datetime.fromisoformat((value or "").strip()).replace(tzinfo=ZONE).isoformat()
    except ValueError:
        return None


@staff_page(*EVERYONE)
async def roster(c: Console) -> Response:
    start = clock.now().astimezone(ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    shifts = await c.run(ROSTER, {"from": start.isoformat(), "to": (start + timedelta(days=DAYS)).isoformat()})
    pages = await c.run(PAGES)
    form: dict[str, Any] = {}
    if c.can(*ADMIN):
        form = (await c.run(FORM)).data
    return await c.render(
        "oncall.html",
        shifts=shifts.data.get("dutyRoster") or [],
        on_call=(pages.data.get("myPages") or {}).get("nodes") or [],
        staff=[s for s in (form.get("staffMembers") or {}).get("nodes") or [] if s["active"]],
        sites=(form.get("sites") or {}).get("nodes") or [],
        roles={r.name: ROLE_LABELS_ZH[r] for r in Role if r is not Role.ADMIN},
        now_local=clock.now().astimezone(ZONE).strftime("%Y-%m-%dT%H:00"),
        errors=shifts.errors + pages.errors,
    )


@staff_page(*ADMIN)
async def create(c: Console) -> Response:
    form = await c.form()
    variables = {
        "staffId": form.get("staffId", ""),
        "role": form.get("role", ""),
        "startsAt": _moment(form.get("startsAt")),
        "endsAt": _moment(form.get("endsAt")),
        "siteId": form.get("siteId") or None,
    }
    if variables["startsAt"] is None or variables["endsAt"] is None:
        await c.flash("请填写值班起止时间", "error")
        return c.redirect("/console/oncall")
    result = await c.run(CREATE, {"input": variables})
    _, errors = result.payload("dutyShiftCreate")
    await (c.flash_errors(errors) if errors else c.flash("已排班"))
    return c.redirect("/console/oncall")


@staff_page(*ADMIN)
async def remove(c: Console) -> Response:
    form = await c.form()
    result = await c.run(REMOVE, {"input": {"shiftId": form.get("shiftId", "")}})
    _, errors = result.payload("dutyShiftRemove")
    await (c.flash_errors(errors) if errors else c.flash("已删除值班"))
    return c.redirect("/console/oncall")


ROUTES = [
    Route("/oncall", roster, methods=["GET"]),
    Route("/oncall/shifts/new", create, methods=["POST"]),
    Route("/oncall/shifts/remove", remove, methods=["POST"]),
]
