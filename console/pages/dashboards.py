"""Marketing dashboards as ECharts charts, each exportable as CSV (the same GraphQL query, as rows).

Every board is one operation; a chart is a small JSON spec the page's script draws (console.js), so no
script is written into the page. CSV starts with a byte-order mark: Excel opens UTF-8 Chinese correctly.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from console.menu import DASHBOARDS
from console.web import PAGE_HEADERS, Console, staff_page
from core import clock

STAGE_LABELS = {
    "acquisition": "获客期",
    "conversion": "转化期",
    "retention": "留存期",
    "loyalty": "忠诚期",
    "dormant": "沉睡期",
}
Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Board:
    title: str
    query: str
    field: str
    columns: tuple[tuple[str, str], ...]  # (key, header) of the CSV
    chart: Callable[[Rows], dict[str, Any]]


def _stage(value: Any) -> str:
    return STAGE_LABELS.get(str(value or "").lower(), str(value or "新患者"))


def _series(rows: Rows, x: str, *keys: tuple[str, str], kind: str = "line") -> dict[str, Any]:
    return {
        "type": kind,
        "x": [str(r[x]) for r in rows],
        "series": [{"name": label, "data": [r[key] for r in rows]} for key, label in keys],
    }


def _movement(rows: Rows) -> dict[str, Any]:
    periods = sorted({str(r["period"]) for r in rows})
    targets = sorted({str(r["toStage"]) for r in rows})
    totals = {(str(r["period"]), str(r["toStage"])): 0 for r in rows}
    for r in rows:
        totals[(str(r["period"]), str(r["toStage"]))] += r["changes"]
    return {
        "type": "bar",
        "x": periods,
        "series": [{"name": _stage(t), "data": [totals.get((p, t), 0) for p in periods]} for t in targets],
    }


BOARDS: dict[str, Board] = {
    "return-visits": Board(
        "复诊率（按月）",
        """query ConsoleBoardReturn($since: Date!, $until: Date!) {
          dashboardReturnVisitRate(period: MONTH, since: $since, until: $until) { period patients returning rate } }""",
        "dashboardReturnVisitRate",
        (("period", "月份"), ("patients", "就诊患者"), ("returning", "复诊患者"), ("rate", "复诊率")),
        lambda rows: _series(rows, "period", ("rate", "复诊率")),
    ),
    "lifecycle": Board(
        "生命周期漏斗（当前）",
        """query ConsoleBoardFunnel { dashboardLifecycleFunnel { stage patients } }""",
        "dashboardLifecycleFunnel",
        (("stage", "阶段"), ("patients", "人数")),
        lambda rows: {
            "type": "funnel",
            "series": [{"name": "人数", "data": [{"name": _stage(r["stage"]), "value": r["patients"]} for r in rows]}],
        },
    ),
    "movement": Board(
        "生命周期变化（按月，进入的阶段）",
        """query ConsoleBoardMovement($since: Date!, $until: Date!) {
          dashboardLifecycleMovement(period: MONTH, since: $since, until: $until) {
            period fromStage toStage changes } }""",
        "dashboardLifecycleMovement",
        (("period", "月份"), ("fromStage", "原阶段"), ("toStage", "新阶段"), ("changes", "次数")),
        _movement,
    ),
    "nps": Board(
        "NPS（按月）",
        """query ConsoleBoardNps($since: Date!, $until: Date!) {
          dashboardNpsTrend(since: $since, until: $until) { month answers promoters passives detractors nps } }""",
        "dashboardNpsTrend",
        (
            ("month", "月份"),
            ("answers", "作答数"),
            ("promoters", "推荐者"),
            ("passives", "中立者"),
            ("detractors", "贬损者"),
            ("nps", "NPS"),
        ),
        lambda rows: _series(rows, "month", ("nps", "NPS")),
    ),
    "referrals": Board(
        "推荐转化（按注册月份）",
        """query ConsoleBoardReferrals($since: Date!, $until: Date!) {
          dashboardReferralConversion(since: $since, until: $until) {
            month referrals rejected converted conversionRate } }""",
        "dashboardReferralConversion",
        (
            ("month", "月份"),
            ("referrals", "推荐数"),
            ("rejected", "被拒绝"),
            ("converted", "已转化"),
            ("conversionRate", "转化率"),
        ),
        lambda rows: _series(rows, "month", ("referrals", "推荐数"), ("converted", "已转化"), kind="bar"),
    ),
    "campaigns": Board(
        "营销活动转化",
        """query ConsoleBoardCampaigns($since: Date!, $until: Date!) {
          dashboardCampaignConversion(since: $since, until: $until) {
            campaignId name audience sent delivered opened converted conversionRate pointsCost } }""",
        "dashboardCampaignConversion",
        (
            ("name", "活动"),
            ("audience", "目标"),
            ("sent", "发送"),
            ("delivered", "送达"),
            ("opened", "打开"),
            ("converted", "转化"),
            ("conversionRate", "转化率"),
            ("pointsCost", "积分成本"),
        ),
        lambda rows: _series(rows, "name", ("delivered", "送达"), ("converted", "转化"), kind="bar"),
    ),
    "community": Board(
        "社区活跃（按周）",
        """query ConsoleBoardCommunity($since: Date!, $until: Date!) {
          dashboardCommunityActivity(since: $since, until: $until) { week activeMembers posts comments checkins } }""",
        "dashboardCommunityActivity",
        (("week", "周"), ("activeMembers", "活跃患者"), ("posts", "发帖"), ("comments", "评论"), ("checkins", "打卡")),
        lambda rows: _series(
            rows, "week", ("activeMembers", "活跃患者"), ("posts", "发帖"), ("comments", "评论"), ("checkins", "打卡")
        ),
    ),
    "liability": Board(
        "积分负债",
        """query ConsoleBoardLiability { dashboardPointsLiability {
          available pending owed expiring30Days expiring90Days membersWithPoints } }""",
        "dashboardPointsLiability",
        (
            ("available", "可用"),
            ("pending", "待入账"),
            ("owed", "欠扣"),
            ("expiring30Days", "30天内到期"),
            ("expiring90Days", "90天内到期"),
            ("membersWithPoints", "有积分会员"),
        ),
        lambda rows: {
            "type": "pie",
            "series": [
                {
                    "name": "积分",
                    "data": [
                        {"name": "可用", "value": rows[0]["available"] if rows else 0},
                        {"name": "待入账", "value": rows[0]["pending"] if rows else 0},
                    ],
                }
            ],
        },
    ),
}


def _range(c: Console) -> tuple[str, str]:
    """since/until from the query string (ISO days), by default the last 180 days."""
    today = clock.now().date()
    params = c.request.query_params

    def day(name: str, default: date) -> str:
        try:
            return date.fromisoformat(params.get(name, "")).isoformat()
        except ValueError:
            return default.isoformat()

    return day("since", today - timedelta(days=180)), day("until", today)


async def _rows(c: Console, board: Board, since: str, until: str) -> tuple[Rows, list[Any]]:
    variables = {"since": since, "until": until} if "$since" in board.query else {}
    result = await c.run(board.query, variables)
    found = result.data.get(board.field)
    rows = found if isinstance(found, list) else ([found] if found else [])
    return rows, result.errors


@staff_page(*DASHBOARDS)
async def boards(c: Console) -> Response:
    since, until = _range(c)
    shown = []
    errors: list[Any] = []
    for key, board in BOARDS.items():
        rows, problems = await _rows(c, board, since, until)
        errors += problems
        shown.append({"key": key, "title": board.title, "rows": rows, "spec": json.dumps(board.chart(rows))})
    return await c.render("marketing/dashboards.html", boards=shown, since=since, until=until, errors=errors)


@staff_page(*DASHBOARDS)
async def export(c: Console) -> Response:
    key = c.request.path_params["board"]
    board = BOARDS.get(key)
    if board is None:
        return await c.render("refused.html", http_status=404, title="看板不存在", detail=key)
    since, until = _range(c)
    rows, errors = await _rows(c, board, since, until)
    if errors:
        return await c.render("refused.html", http_status=400, title="导出失败", detail=errors[0].message)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([header for _, header in board.columns])
    for row in rows:
        writer.writerow([_cell(name, row.get(name)) for name, _ in board.columns])
    headers = {**PAGE_HEADERS, "content-disposition": f'attachment; filename="{key}-{since}-{until}.csv"'}
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


def _cell(column: str, value: Any) -> Any:
    if column in ("stage", "fromStage", "toStage"):
        return _stage(value)  # a first stage has no stage before it: 新患者
    return "" if value is None else value


ROUTES = [
    Route("/marketing/dashboards", boards, methods=["GET"]),
    Route("/marketing/dashboards/{board:str}.csv", export, methods=["GET"]),
]
