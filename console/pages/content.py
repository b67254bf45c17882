"""Editors (marketing) and reviewers: items by status, the editor with a live preview, the compliance
findings marked inline on the text, submit / approve / reject with comments, scheduling, the
revisions with a diff of the text, and the engagement counts."""

from __future__ import annotations

import difflib
import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from console.menu import CONTENT, CONTENT_AUTHORS, CONTENT_REVIEWERS
from console.strings import t
from console.web import PAGE_HEADERS, Console, staff_page
from core import clock
from core.text import render_markdown

ZONE = ZoneInfo("Asia/Shanghai")
ITEM_FIELDS = """id kind status live publishedAt publishAt title summary conditionCodes topics gate gateMinTierRank
  coverUrl videoUrl language counts { views reads likes bookmarks shares }
  audience { conditionCodes groupIds tiers stages }
  workingRevision { id number status title summary body bodyHtml conditionCodes topics checkedAt reviewComment
    findings { id rule category severity field start end excerpt message } acknowledgedFindings }
  revisions { id number status title body createdAt reviewComment }
  transitions { fromStatus toStatus actorKind comment occurredAt }"""
LIST = """query ConsoleContentItems($status: ContentItemStatus, $mine: Boolean!, $after: String) {
  contentItems(status: $status, mine: $mine, first: 30, after: $after) {
    nodes { id kind status title live publishAt publishedAt counts { views reads likes } }
    pageInfo { hasNextPage endCursor } } }"""
ITEM = f"""query ConsoleContentItem($id: ID!) {{ contentItem(id: $id) {{ {ITEM_FIELDS} }} }}"""
CHECK = """query ConsoleContentCheck($id: ID!) { contentComplianceCheck(itemId: $id) {
  id rule category severity field start end excerpt message } }"""
STATS = """query ConsoleContentStats($id: ID!, $since: DateTime) { contentStats(itemId: $id, since: $since) {
  day views reads likes bookmarks shares } }"""
CONDITIONS = """query ConsoleConditions { conditions { code name } }"""
CREATE = """mutation ConsoleContentCreate($input: ContentInput!) { contentCreate(input: $input) {
  item { id } errors { field code message } } }"""
UPDATE = """mutation ConsoleContentUpdate($input: ContentUpdateInput!) { contentUpdate(input: $input) {
  item { id } errors { field code message } } }"""
SUBMIT = """mutation ConsoleContentSubmit($input: ContentItemInput!) { contentSubmit(input: $input) {
  item { id status } findings { id severity } errors { field code message } } }"""
APPROVE = """mutation ConsoleContentApprove($input: ContentApproveInput!) { contentApprove(input: $input) {
  item { id status } errors { field code message } } }"""
REJECT = """mutation ConsoleContentReject($input: ContentRejectInput!) { contentReject(input: $input) {
  item { id status } errors { field code message } } }"""
PUBLISH = """mutation ConsoleContentPublish($input: ContentPublishInput!) { contentPublish(input: $input) {
  item { id status publishAt } errors { field code message } } }"""
ARCHIVE = """mutation ConsoleContentArchive($input: ContentItemInput!) { contentArchive(input: $input) {
  item { id status } errors { field code message } } }"""

STATUSES = {
    "DRAFT": "草稿",
    "IN_REVIEW": "审核中",
    "APPROVED": "已通过",
    "REJECTED": "已驳回",
    "SCHEDULED": "待发布",
    "PUBLISHED": "已发布",
    "ARCHIVED": "已归档",
}
KINDS = {"ARTICLE": "文章", "VIDEO": "视频", "ANNOUNCEMENT": "公告", "STORY": "患者故事"}
# Stories carry the consenting patient, which the API does not show: the console does not edit them.
EDITABLE_KINDS = ("ARTICLE", "VIDEO", "ANNOUNCEMENT")
MAX_PREVIEW = 20_000


def mark_findings(text: str, findings: list[dict[str, Any]], field: str) -> Markup:
    """The field's text with each finding's span marked (BLOCK red, WARN amber), its message as title."""
    spans = sorted(
        (f for f in findings if f.get("field") == field and f.get("start") is not None and f.get("end") is not None),
        key=lambda f: (f["start"], -f["end"]),
    )
    out, last = [], 0
    for f in spans:
        start, end = int(f["start"]), int(f["end"])
        if start < last or end > len(text) or start >= end:
            continue  # overlapping or stale: the list below still names it
        css = "finding" if f["severity"] == "BLOCK" else "finding warn"
        out.append(escape(text[last:start]))
        out.append(Markup('<mark class="{}" title="{}">{}</mark>').format(css, f["message"], text[start:end]))
        last = end
    out.append(escape(text[last:]))
    return Markup("").join(out)


def diff_html(before: str, after: str, before_label: str = "上一版本", after_label: str = "本版本") -> Markup:
    """A line diff of two revisions' Markdown (difflib's table, no inline styles)."""
    table = difflib.HtmlDiff(wrapcolumn=60).make_table(
        before.splitlines(), after.splitlines(), before_label, after_label, context=True, numlines=2
    )
    return Markup(table)


def _number(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isdigit() and len(text) < 6 else None


def compared(
    revisions: list[dict[str, Any]], a: str | None, b: str | None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The two revisions to diff, older first: the ones picked (`a`, `b`: revision numbers) when both
    exist, else the last two; None when there are fewer than two or the same one was picked twice."""
    by_number = {r["number"]: r for r in revisions}
    if len(by_number) < 2:
        return None
    picked = [_number(a), _number(b)]
    if all(n in by_number for n in picked):
        first, second = sorted(n for n in picked if n is not None)
        if first == second:
            return None
        return by_number[first], by_number[second]
    numbers = sorted(by_number)
    return by_number[numbers[-2]], by_number[numbers[-1]]


def _input(form: dict[str, str], lists: dict[str, list[str]], item: dict[str, Any] | None) -> dict[str, Any]:
    """ContentInput from the editor's fields; what the form does not edit is kept from the item."""
    kept = item or {}
    audience = kept.get("audience") or {}
    return {
        "kind": (kept.get("kind") or form.get("kind") or "ARTICLE"),
        "title": form.get("title", ""),
        "summary": form.get("summary", ""),
        "body": form.get("body", ""),
        "conditionCodes": lists.get("conditionCodes", []),
        "topics": [t.strip() for t in form.get("topics", "").replace("，", ",").split(",") if t.strip()],
        "coverUrl": kept.get("coverUrl"),
        "videoUrl": form.get("videoUrl") or kept.get("videoUrl"),
        "language": kept.get("language") or "zh-CN",
        "audienceConditions": audience.get("conditionCodes", []),
        "audienceGroupIds": audience.get("groupIds", []),
        "audienceTiers": audience.get("tiers", []),
        "audienceStages": audience.get("stages", []),
        "gate": kept.get("gate") or "PUBLIC",
        "gateMinTierRank": kept.get("gateMinTierRank"),
    }


@staff_page(*CONTENT)
async def items(c: Console) -> Response:
    params = c.request.query_params
    status = params.get("status") or None
    if status not in (None, *STATUSES):
        status = None
    variables = {"status": status, "mine": params.get("mine") == "1", "after": params.get("after") or None}
    result = await c.run(LIST, variables)
    connection = result.data.get("contentItems") or {"nodes": [], "pageInfo": {}}
    return await c.render(
        "content/items.html",
        items=connection["nodes"],
        page_info=connection["pageInfo"],
        filters=variables,
        statuses=STATUSES,
        kinds=KINDS,
        errors=result.errors,
    )


async def _conditions(c: Console) -> list[dict[str, str]]:
    return (await c.run(CONDITIONS)).data.get("conditions") or []


@staff_page(*CONTENT_AUTHORS)
async def new(c: Console) -> Response:
    return await c.render(
        "content/edit.html", item=None, conditions=await _conditions(c), kinds=KINDS, editable_kinds=EDITABLE_KINDS
    )


@staff_page(*CONTENT_AUTHORS)
async def create(c: Console) -> Response:
    form = await c.form()
    lists = await c.form_lists()
    if form.get("kind") not in EDITABLE_KINDS:
        form["kind"] = "ARTICLE"
    result = await c.run(CREATE, {"input": _input(form, lists, None)})
    payload, errors = result.payload("contentCreate")
    if errors or not payload or not payload.get("item"):
        await c.flash_errors(errors)
        return c.redirect("/console/content/new")
    await c.flash("已保存草稿")
    return c.redirect(f"/console/content/{payload['item']['id']}")


async def _item(c: Console, item_id: str) -> dict[str, Any] | None:
    found = await c.run(ITEM, {"id": item_id})
    item = found.data.get("contentItem")
    return item if isinstance(item, dict) else None


@staff_page(*CONTENT)
async def detail(c: Console) -> Response:
    item_id = c.request.path_params["item_id"]
    item = await _item(c, item_id)
    if item is None:
        return await c.render("refused.html", http_status=404, title="内容不存在", detail="该内容不存在或无权查看。")
    working = item.get("workingRevision") or {}
    check = await c.run(CHECK, {"id": item_id})
    findings = check.data.get("contentComplianceCheck") or []
    since = (clock.now() - timedelta(days=30)).isoformat()
    stats = (await c.run(STATS, {"id": item_id, "since": since})).data.get("contentStats") or []
    chart = None
    if stats:
        series = [
            {"name": label, "data": [d[key] for d in stats]} for key, label in (("views", "阅读"), ("reads", "读完"))
        ]
        chart = json.dumps({"type": "line", "x": [d["day"] for d in stats], "series": series}, ensure_ascii=False)
    revisions = sorted(item.get("revisions") or [], key=lambda r: r["number"])
    params = c.request.query_params
    pair = compared(revisions, params.get("a"), params.get("b"))
    diff = None
    if pair is not None:
        older, newer = pair
        labels = (t("content.revision", number=older["number"]), t("content.revision", number=newer["number"]))
        diff = diff_html(older["body"], newer["body"], *labels)
    return await c.render(
        "content/detail.html",
        item=item,
        working=working,
        findings=findings,
        blocking=[f for f in findings if f["severity"] == "BLOCK"],
        warnings=[f for f in findings if f["severity"] == "WARN"],
        marked_title=mark_findings(working.get("title") or "", findings, "title"),
        marked_summary=mark_findings(working.get("summary") or "", findings, "summary"),
        marked_body=mark_findings(working.get("body") or "", findings, "body"),
        revisions=revisions,
        diff=diff,
        pair=pair,
        same_picked=pair is None and len(revisions) > 1,
        chart=chart,
        conditions=await _conditions(c),
        statuses=STATUSES,
        kinds=KINDS,
        editable=item["kind"] in EDITABLE_KINDS and item["status"] in ("DRAFT", "REJECTED", "PUBLISHED"),
        editable_kinds=EDITABLE_KINDS,
        authors=c.can(*CONTENT_AUTHORS),
        reviewers=c.can(*CONTENT_REVIEWERS),
        now_local=clock.now().astimezone(ZONE).strftime("%Y-%m-%dT%H:%M"),
        errors=check.errors,
    )


def _back(item_id: str) -> str:
    return f"/console/content/{item_id}"


async def _finish(c: Console, item_id: str, name: str, result: Any, done: str) -> Response:
    _, errors = result.payload(name)
    await (c.flash_errors(errors) if errors else c.flash(done))
    return c.redirect(_back(item_id))


@staff_page(*CONTENT_AUTHORS)
async def save(c: Console) -> Response:
    item_id = c.request.path_params["item_id"]
    item = await _item(c, item_id)
    form, lists = await c.form(), await c.form_lists()
    result = await c.run(UPDATE, {"input": {"itemId": item_id, "content": _input(form, lists, item)}})
    return await _finish(c, item_id, "contentUpdate", result, "已保存")


@staff_page(*CONTENT_AUTHORS)
async def submit(c: Console) -> Response:
    """Checked first: a text with a blocking finding is not sent to review (the findings are marked on
    the page); a clean one is submitted (the API checks again and keeps the report for the reviewer)."""
    item_id = c.request.path_params["item_id"]
    check = await c.run(CHECK, {"id": item_id})
    blocking = [f for f in check.data.get("contentComplianceCheck") or [] if f["severity"] == "BLOCK"]
    if check.errors:
        await c.flash_errors(check.errors)
        return c.redirect(_back(item_id))
    if blocking:
        await c.flash(f"合规检查未通过：{len(blocking)}项违规表述（已在正文中标红），请修改后再提交", "error")
        return c.redirect(_back(item_id))
    result = await c.run(SUBMIT, {"input": {"itemId": item_id}})
    return await _finish(c, item_id, "contentSubmit", result, "已提交审核")


@staff_page(*CONTENT_REVIEWERS)
async def approve(c: Console) -> Response:
    item_id = c.request.path_params["item_id"]
    form, lists = await c.form(), await c.form_lists()
    variables = {
        "itemId": item_id,
        "comment": form.get("comment") or None,
        "acknowledgedFindings": lists.get("acknowledged", []),
    }
    result = await c.run(APPROVE, {"input": variables})
    return await _finish(c, item_id, "contentApprove", result, "已审核通过")


@staff_page(*CONTENT_REVIEWERS)
async def reject(c: Console) -> Response:
    item_id = c.request.path_params["item_id"]
    form = await c.form()
    result = await c.run(REJECT, {"input": {"itemId": item_id, "comment": form.get("comment", "")}})
    return await _finish(c, item_id, "contentReject", result, "已驳回")


@staff_page(*CONTENT)
async def publish(c: Console) -> Response:
    item_id = c.request.path_params["item_id"]
    form = await c.form()
    at = form.get("publishAt", "")
    publish_at = None
    if at:
        try:
            publish_at = datetime.fromisoformat(at).replace(tzinfo=ZONE).isoformat()
        except ValueError:
            await c.flash("发布时间格式不正确", "error")
            return c.redirect(_back(item_id))
    result = await c.run(PUBLISH, {"input": {"itemId": item_id, "publishAt": publish_at}})
    return await _finish(c, item_id, "contentPublish", result, "已安排定时发布" if publish_at else "已发布")


@staff_page(*CONTENT)
async def archive(c: Console) -> Response:
    item_id = c.request.path_params["item_id"]
    result = await c.run(ARCHIVE, {"input": {"itemId": item_id}})
    return await _finish(c, item_id, "contentArchive", result, "已归档")


@staff_page(*CONTENT_AUTHORS)
async def preview(c: Console) -> Response:
    """The editor's live preview (htmx): the Markdown as readers will see it (core.text's renderer
    and sanitiser, the same the API uses). Nothing is read or stored."""
    form = await c.form()
    body = form.get("body", "")[:MAX_PREVIEW]
    return HTMLResponse(render_markdown(body), headers=PAGE_HEADERS)


def _item_route(path: str, endpoint: Any, method: str) -> Route:
    return Route("/content/{item_id:str}" + path, endpoint, methods=[method])


ROUTES = [
    Route("/content", items, methods=["GET"]),
    Route("/content/new", new, methods=["GET"]),
    Route("/content/new", create, methods=["POST"]),
    Route("/content/preview", preview, methods=["POST"]),
    _item_route("", detail, "GET"),
    _item_route("/save", save, "POST"),
    _item_route("/submit", submit, "POST"),
    _item_route("/approve", approve, "POST"),
    _item_route("/reject", reject, "POST"),
    _item_route("/publish", publish, "POST"),
    _item_route("/archive", archive, "POST"),
]
