"""Care team: the satisfaction survey's results (responses, NPS, the answers per question as a chart)
and the answered surveys with the patient masked, over a period and a site. The list is a PHI read: the
API records it in the audit, as any staff read of survey answers."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.responses import Response
from starlette.routing import Route

from console.menu import SURVEYS
from console.strings import t
from console.web import Console, staff_page
from core import clock

ZONE = ZoneInfo("Asia/Shanghai")
DEFAULT_DAYS = 30
RESULTS = """query ConsoleSurveyResults($since: Date, $until: Date, $site: ID) {
  surveyResults(since: $since, until: $until, siteId: $site) {
    title responses promoters passives detractors nps
    questions { key title answered } answerCounts { questionKey label count } } }"""
RESPONSES = """query ConsoleSurveyResponses($since: Date, $until: Date, $site: ID, $min: Int, $max: Int,
  $comment: Boolean!, $after: String) {
  surveyResponses(since: $since, until: $until, siteId: $site, minScore: $min, maxScore: $max,
    withComment: $comment, first: 30, after: $after) {
    nodes { id score comment answeredAt visitedAt site { name } respondent { nickname maskedPhone } }
    pageInfo { hasNextPage endCursor } } }"""
SITES = """query ConsoleSurveySites { sites(first: 50) { nodes { id name } } }"""
# The score filter's choices: (key, label key, min, max).
BANDS = {
    "detractors": ("surveys.scores.detractors", 0, 6),
    "passives": ("surveys.scores.passives", 7, 8),
    "promoters": ("surveys.scores.promoters", 9, 10),
}


def _day(value: str | None, default: date | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip()[:10])
    except ValueError:
        return default


def _chart(results: dict[str, Any]) -> str | None:
    counts = [c for c in results.get("answerCounts") or [] if c["questionKey"] == "score"]
    if not counts or not results.get("responses"):
        return None
    spec = {
        "type": "bar",
        "x": [t("surveys.option", label=c["label"]) for c in counts],
        "series": [{"name": t("surveys.people"), "data": [c["count"] for c in counts]}],
    }
    return json.dumps(spec, ensure_ascii=False)


@staff_page(*SURVEYS)
async def surveys(c: Console) -> Response:
    params = c.request.query_params
    today = clock.now().astimezone(ZONE).date()
    since = _day(params.get("since"), today - timedelta(days=DEFAULT_DAYS - 1))
    until = _day(params.get("until"), today)
    band = params.get("band") if params.get("band") in BANDS else ""
    site = (params.get("site") or "").strip()[:100] or None
    commented = params.get("comment") == "1"
    period = {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None}
    summary = await c.run(RESULTS, {**period, "site": site})
    _, low, high = BANDS[band] if band else ("", None, None)
    listed = await c.run(
        RESPONSES,
        {**period, "site": site, "min": low, "max": high, "comment": commented, "after": params.get("after") or None},
    )
    sites = await c.run(SITES)
    results = summary.data.get("surveyResults") or {}
    connection = listed.data.get("surveyResponses") or {"nodes": [], "pageInfo": {}}
    counts: dict[str, list[dict[str, Any]]] = {}
    for count in results.get("answerCounts") or []:
        counts.setdefault(count["questionKey"], []).append(count)
    query = urlencode({**{k: v or "" for k, v in period.items()}, "site": site or "", "band": band})
    return await c.render(
        "care/surveys.html",
        results=results,
        counts=counts,
        chart=_chart(results),
        responses=connection["nodes"],
        page_info=connection["pageInfo"],
        filters={**period, "site": site, "band": band, "comment": commented},
        bands=BANDS,
        sites=(sites.data.get("sites") or {}).get("nodes") or [],
        base=f"/console/care/surveys?{query}" + ("&comment=1" if commented else ""),
        errors=summary.errors + listed.errors,
    )


ROUTES = [Route("/care/surveys", surveys, methods=["GET"])]
