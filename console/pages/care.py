"""Care team: complaints with their 24-hour first-response clock (take, respond before it runs out,
resolve, close), check-in health alerts to acknowledge, and the signed-in staff member's on-call pages."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from console.menu import ALERTS, COMPLAINTS
from console.web import Console, staff_page

COMPLAINTS_QUERY = """query ConsoleComplaints($status: ComplaintStatus, $mine: Boolean!, $overdue: Boolean!,
  $after: String) {
  complaints(status: $status, mine: $mine, overdue: $overdue, first: 30, after: $after) {
    nodes { id status source score reasons body createdAt dueAt firstResponseAt respondedAt resolvedAt closedAt
      escalatedAt site { name } assignee { id name } patient { nickname phone }
      history { action note createdAt actor { name } } }
    pageInfo { hasNextPage endCursor } } }"""
ME = """query ConsoleMe { me { ... on Staff { id } } }"""
ASSIGN = """mutation ConsoleComplaintAssign($input: ComplaintAssignInput!) { complaintAssign(input: $input) {
  complaint { id } errors { field code message } } }"""
RESPOND = """mutation ConsoleComplaintRespond($input: ComplaintRespondInput!) { complaintRespond(input: $input) {
  complaint { id firstResponseSeconds } errors { field code message } } }"""
RESOLVE = """mutation ConsoleComplaintResolve($input: ComplaintNoteInput!) { complaintResolve(input: $input) {
  complaint { id } errors { field code message } } }"""
CLOSE = """mutation ConsoleComplaintClose($input: ComplaintNoteInput!) { complaintClose(input: $input) {
  complaint { id } errors { field code message } } }"""
ALERTS_QUERY = """query ConsoleAlerts($after: String) { healthAlerts(first: 30, after: $after) {
  nodes { id kind reading message patientId patientNickname createdAt acknowledgedAt }
  pageInfo { hasNextPage endCursor } } }"""
ACK_ALERT = """mutation ConsoleAlertAck($input: HealthAlertAcknowledgeInput!) { healthAlertAcknowledge(input: $input) {
  alert { id acknowledgedAt } errors { field code message } } }"""
PAGES = """query ConsoleMyPages { myPages(first: 20, unacknowledgedOnly: true) {
  nodes { id number kind subject body level createdAt escalatesAt } } }"""
ACK_PAGE = """mutation ConsolePageAck($input: PageAcknowledgeInput!) { pageAcknowledge(input: $input) {
  page { id acknowledgedAt } errors { field code message } } }"""

STATUSES = {"OPEN": "待处理", "IN_PROGRESS": "处理中", "RESPONDED": "已回复", "RESOLVED": "已解决", "CLOSED": "已关闭"}
ACTIONS = {
    "opened": "受理",
    "assigned": "分派",
    "responded": "回复",
    "resolved": "解决",
    "closed": "关闭",
    "escalated": "超时升级",
}
KINDS = {"GLUCOSE": "血糖", "BLOOD_PRESSURE": "血压", "WEIGHT": "体重", "EXERCISE": "运动", "MEDICATION": "用药"}


@staff_page(*COMPLAINTS)
async def complaints(c: Console) -> Response:
    params = c.request.query_params
    status = params.get("status") or None
    if status not in (None, *STATUSES):
        status = None
    variables = {
        "status": status,
        "mine": params.get("mine") == "1",
        "overdue": params.get("overdue") == "1",
        "after": params.get("after") or None,
    }
    result = await c.run(COMPLAINTS_QUERY, variables)
    me = await c.run(ME)
    connection = result.data.get("complaints") or {"nodes": [], "pageInfo": {}}
    return await c.render(
        "care/complaints.html",
        complaints=connection["nodes"],
        page_info=connection["pageInfo"],
        filters=variables,
        statuses=STATUSES,
        actions=ACTIONS,
        my_id=((me.data.get("me") or {}).get("id")),
        errors=result.errors,
    )


async def _complaint_action(c: Console, query: str, name: str, variables: dict[str, Any], done: str) -> Response:
    result = await c.run(query, {"input": variables})
    _, errors = result.payload(name)
    await (c.flash_errors(errors) if errors else c.flash(done))
    return c.redirect("/console/care/complaints")


@staff_page(*COMPLAINTS)
async def take(c: Console) -> Response:
    form = await c.form()
    me = await c.run(ME)
    staff_id = (me.data.get("me") or {}).get("id", "")
    return await _complaint_action(
        c, ASSIGN, "complaintAssign", {"complaintId": form.get("complaintId", ""), "staffId": staff_id}, "已由我负责"
    )


@staff_page(*COMPLAINTS)
async def respond(c: Console) -> Response:
    form = await c.form()
    variables = {"complaintId": form.get("complaintId", ""), "message": form.get("message", "")}
    return await _complaint_action(c, RESPOND, "complaintRespond", variables, "已回复患者（站内信）")


@staff_page(*COMPLAINTS)
async def resolve(c: Console) -> Response:
    form = await c.form()
    variables = {"complaintId": form.get("complaintId", ""), "note": form.get("note") or None}
    return await _complaint_action(c, RESOLVE, "complaintResolve", variables, "已标记为解决")


@staff_page(*COMPLAINTS)
async def close(c: Console) -> Response:
    form = await c.form()
    variables = {"complaintId": form.get("complaintId", ""), "note": form.get("note") or None}
    return await _complaint_action(c, CLOSE, "complaintClose", variables, "已关闭工单")


@staff_page(*ALERTS)
async def alerts(c: Console) -> Response:
    result = await c.run(ALERTS_QUERY, {"after": c.request.query_params.get("after") or None})
    pages = await c.run(PAGES)
    connection = result.data.get("healthAlerts") or {"nodes": [], "pageInfo": {}}
    return await c.render(
        "care/alerts.html",
        alerts=connection["nodes"],
        page_info=connection["pageInfo"],
        kinds=KINDS,
        on_call=(pages.data.get("myPages") or {}).get("nodes") or [],
        errors=result.errors + pages.errors,
    )


@staff_page(*ALERTS)
async def acknowledge_alert(c: Console) -> Response:
    form = await c.form()
    result = await c.run(ACK_ALERT, {"input": {"alertId": form.get("alertId", "")}})
    _, errors = result.payload("healthAlertAcknowledge")
    await (c.flash_errors(errors) if errors else c.flash("已确认预警，请联系患者"))
    return c.redirect("/console/care/alerts")


@staff_page()
async def acknowledge_page(c: Console) -> Response:
    form = await c.form()
    result = await c.run(ACK_PAGE, {"input": {"pageId": form.get("pageId", "")}})
    _, errors = result.payload("pageAcknowledge")
    await (c.flash_errors(errors) if errors else c.flash("已确认值班提醒"))
    back = form.get("back", "")
    return c.redirect(back if back.startswith("/console/") and "//" not in back else "/console/")


ROUTES = [
    Route("/care/complaints", complaints, methods=["GET"]),
    Route("/care/complaints/take", take, methods=["POST"]),
    Route("/care/complaints/respond", respond, methods=["POST"]),
    Route("/care/complaints/resolve", resolve, methods=["POST"]),
    Route("/care/complaints/close", close, methods=["POST"]),
    Route("/care/alerts", alerts, methods=["GET"]),
    Route("/care/alerts/ack", acknowledge_alert, methods=["POST"]),
    Route("/pages/ack", acknowledge_page, methods=["POST"]),
]
