"""Marketing segments: the builder with a live count and sample (segmentPreview as the filters change,
through htmx), saved segments with their counts, save and delete."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import Response
from starlette.routing import Route

from console.menu import CAMPAIGNS, MARKETING
from console.web import Console, render_page, staff_page

ZONE = ZoneInfo("Asia/Shanghai")
LIST = """query ConsoleSegments { segments(first: 50) { nodes { id name description updatedAt
  criteria { stages tiers conditionCodes groupIds siteIds ageMin ageMax genders lastVisitBefore lastVisitAfter
    pointsMin pointsMax } } } }"""
OPTIONS = """query ConsoleSegmentOptions { conditions { code name } tiers { code name }
  groups(first: 50) { nodes { id name } } sites(first: 50) { nodes { id name } } }"""
PREVIEW = """query ConsoleSegmentPreview($criteria: SegmentCriteriaInput, $segmentId: ID, $kind: CampaignClass!) {
  segmentPreview(criteria: $criteria, segmentId: $segmentId, kind: $kind) {
    count suppressed sample { id nickname phone } } }"""
CREATE = """mutation ConsoleSegmentCreate($input: SegmentCreateInput!) { segmentCreate(input: $input) {
  segment { id name } errors { field code message } } }"""
DELETE = """mutation ConsoleSegmentDelete($input: SegmentDeleteInput!) { segmentDelete(input: $input) {
  errors { field code message } } }"""

STAGES = {
    "ACQUISITION": "获客期",
    "CONVERSION": "转化期",
    "RETENTION": "留存期",
    "LOYALTY": "忠诚期",
    "DORMANT": "沉睡期",
}
GENDERS = {"male": "男", "female": "女"}
KINDS = {"MARKETING": "营销", "CARE": "关怀"}


def _int(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def _day(value: str | None) -> str | None:
    """<input type=date> (a day in Asia/Shanghai) to the start of that day as an ISO moment."""
    try:
        return datetime.fromisoformat((value or "").strip()).replace(tzinfo=ZONE).isoformat()
    except ValueError:
        return None


def criteria_from(form: dict[str, str], lists: dict[str, list[str]]) -> dict[str, Any]:
    """SegmentCriteriaInput from the builder's fields (each filled field must match; a list: any of)."""
    return {
        "stages": [s.lower() for s in lists.get("stages", []) if s in STAGES],
        "tiers": lists.get("tiers", []),
        "conditionCodes": lists.get("conditionCodes", []),
        "groupIds": lists.get("groupIds", []),
        "siteIds": lists.get("siteIds", []),
        "genders": [g for g in lists.get("genders", []) if g in GENDERS],
        "ageMin": _int(form.get("ageMin")),
        "ageMax": _int(form.get("ageMax")),
        "lastVisitBefore": _day(form.get("lastVisitBefore")),
        "lastVisitAfter": _day(form.get("lastVisitAfter")),
        "pointsMin": _int(form.get("pointsMin")),
        "pointsMax": _int(form.get("pointsMax")),
    }


@staff_page(*MARKETING)
async def segments(c: Console) -> Response:
    listed = await c.run(LIST)
    options = await c.run(OPTIONS)
    data = options.data
    return await c.render(
        "marketing/segments.html",
        segments=(listed.data.get("segments") or {}).get("nodes") or [],
        conditions=data.get("conditions") or [],
        tiers=data.get("tiers") or [],
        groups=(data.get("groups") or {}).get("nodes") or [],
        sites=(data.get("sites") or {}).get("nodes") or [],
        stages=STAGES,
        genders=GENDERS,
        kinds=KINDS,
        errors=listed.errors + options.errors,
    )


@staff_page(*MARKETING)
async def preview(c: Console) -> Response:
    """The live count (an htmx fragment): the builder's criteria, or a saved segment by id."""
    form, lists = await c.form(), await c.form_lists()
    kind = form.get("kind") if form.get("kind") in KINDS else "MARKETING"
    segment_id = form.get("segmentId") or None
    variables = {"criteria": None if segment_id else criteria_from(form, lists), "segmentId": segment_id, "kind": kind}
    result = await c.run(PREVIEW, variables)
    found = result.data.get("segmentPreview")
    return render_page("marketing/_count.html", preview=found, errors=result.errors, compact=bool(segment_id))


@staff_page(*CAMPAIGNS)
async def create(c: Console) -> Response:
    form, lists = await c.form(), await c.form_lists()
    variables = {
        "name": form.get("name", ""),
        "description": form.get("description", ""),
        "criteria": criteria_from(form, lists),
    }
    result = await c.run(CREATE, {"input": variables})
    payload, errors = result.payload("segmentCreate")
    if errors:
        await c.flash_errors(errors)
    else:
        await c.flash(f"已保存人群「{((payload or {}).get('segment') or {}).get('name', '')}」")
    return c.redirect("/console/marketing/segments")


@staff_page(*CAMPAIGNS)
async def delete(c: Console) -> Response:
    form = await c.form()
    result = await c.run(DELETE, {"input": {"segmentId": form.get("segmentId", "")}})
    _, errors = result.payload("segmentDelete")
    await (c.flash_errors(errors) if errors else c.flash("已删除人群"))
    return c.redirect("/console/marketing/segments")


ROUTES = [
    Route("/marketing/segments", segments, methods=["GET"]),
    Route("/marketing/segments/preview", preview, methods=["POST"]),
    Route("/marketing/segments/new", create, methods=["POST"]),
    Route("/marketing/segments/delete", delete, methods=["POST"]),
]
