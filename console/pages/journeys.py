"""Marketing: the automated journeys (trigger, steps, channels, message) and the day campaigns each one
produced with their stats; one journey's page lists all of its days."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from console.menu import MARKETING
from console.pages.campaigns import CHANNELS
from console.web import Console, staff_page

RECENT_DAYS = 7  # day campaigns shown per journey on the overview
JOURNEYS = """query ConsoleJourneys { journeys { code name kind trigger steps channels subject body } }"""
DAY_FIELDS = """nodes { id name journeyKey status startedAt
      stats { audience sent delivered opened converted conversionRate pointsCost } }
    pageInfo { hasNextPage endCursor }"""
DAYS = f"""query ConsoleJourneyDays($journey: String!, $first: Int!, $after: String) {{
  campaigns(journey: $journey, first: $first, after: $after) {{ {DAY_FIELDS} }} }}"""
STATUSES = {
    "RUNNING": "发送中",
    "PAUSED": "已暂停",
    "COMPLETED": "已完成",
    "CANCELLED": "已取消",
}
TOTALS = ("audience", "sent", "delivered", "opened", "converted", "pointsCost")


def _overview(codes: list[str]) -> str:
    """One operation for every journey's recent days: an alias per journey, the codes as variables."""
    variables = ", ".join(f"$j{i}: String!" for i in range(len(codes)))
    fields = " ".join(
        f"j{i}: campaigns(journey: $j{i}, first: {RECENT_DAYS}) {{ {DAY_FIELDS} }}" for i in range(len(codes))
    )
    return f"query ConsoleJourneyOverview({variables}) {{ {fields} }}"


def _totals(days: list[dict[str, Any]]) -> dict[str, int]:
    return {key: sum(((d.get("stats") or {}).get(key) or 0) for d in days) for key in TOTALS}


@staff_page(*MARKETING)
async def journeys(c: Console) -> Response:
    listed = await c.run(JOURNEYS)
    found = listed.data.get("journeys") or []
    errors = list(listed.errors)
    days: dict[str, Any] = {}
    if found:
        codes = [j["code"] for j in found]
        recent = await c.run(_overview(codes), {f"j{i}": code for i, code in enumerate(codes)})
        errors += recent.errors
        days = {code: recent.data.get(f"j{i}") or {"nodes": [], "pageInfo": {}} for i, code in enumerate(codes)}
    return await c.render(
        "marketing/journeys.html",
        journeys=found,
        days=days,
        totals={code: _totals(d["nodes"]) for code, d in days.items()},
        statuses=STATUSES,
        channels=CHANNELS,
        single=None,
        errors=errors,
    )


@staff_page(*MARKETING)
async def journey(c: Console) -> Response:
    code = c.request.path_params["code"]
    listed = await c.run(JOURNEYS)
    found = [j for j in listed.data.get("journeys") or [] if j["code"] == code]
    if not found:
        return await c.render(
            "refused.html", http_status=404, title="旅程不存在", detail="该自动旅程不存在或无权查看。"
        )
    result = await c.run(DAYS, {"journey": code, "first": 30, "after": c.request.query_params.get("after") or None})
    page = result.data.get("campaigns") or {"nodes": [], "pageInfo": {}}
    return await c.render(
        "marketing/journeys.html",
        journeys=found,
        days={code: page},
        totals={code: _totals(page["nodes"])},
        statuses=STATUSES,
        channels=CHANNELS,
        single=code,
        errors=listed.errors + result.errors,
    )


ROUTES = [
    Route("/marketing/journeys", journeys, methods=["GET"]),
    Route("/marketing/journeys/{code:str}", journey, methods=["GET"]),
]
