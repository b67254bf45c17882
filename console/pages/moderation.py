"""Moderators: the queue (claim, decide with a reason, report weights, the word-filter hit), emergencies
on top with their on-call pages to acknowledge, pending join requests, and member mute/ban/unban."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape
from starlette.responses import Response
from starlette.routing import Route

from console.menu import MODERATION
from console.web import Console, render_page, staff_page
from core import clock
from core.identity import Role

ITEM_FIELDS = """id targetKind targetId postId groupId groupName reason reasonLabel priority score status version
  claimedByMe claimedAt decision decidedAt createdAt targetExists targetStatus title excerpt anonymous authorLabel
  authorId reportCount reportReasons { label count } filterHits { word category }"""
QUEUE = f"""query ConsoleQueue($status: ModerationQueueStatus, $after: String) {{
  moderationQueue(status: $status, first: 30, after: $after) {{
    nodes {{ {ITEM_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
PAGES = """query ConsolePages { myPages(first: 20, unacknowledgedOnly: true) {
  nodes { id number kind subject body level createdAt escalatesAt } } }"""
CLAIM = """mutation ConsoleClaim($input: ModerationClaimInput!) { moderationClaim(input: $input) {
  item { id status } errors { field code message } } }"""
DECIDE = """mutation ConsoleModerate($input: ModerateInput!) { moderate(input: $input) {
  item { id status decision } errors { field code message } } }"""
REQUESTS = """query ConsoleJoinRequests { groups(first: 50) { nodes { id name slug joinPolicy
  joinRequests(first: 20) {
    ... on MembershipConnection { nodes { id note joinAnswer requestedAt member { displayName accountId } } }
    ... on AccessRefusal { code message } } } } }"""
REQUEST_DECIDE = """mutation ConsoleRequestDecide($input: GroupRequestDecideInput!) {
  groupRequestDecide(input: $input) {
  membership { id state } errors { field code message } } }"""
GROUPS = """query ConsoleGroups { groups(first: 50) { nodes { id name } } }"""
RESTRICTIONS = """query ConsoleRestrictions { auditLog(first: 50) { nodes { id action targetKind targetId groupId reason
  createdAt } } }"""
MEMBERSHIPS = """query ConsoleMemberships($ids: [ID!]!) { nodes(ids: $ids) { ... on Membership { id state role
  mutedUntil bannedUntil member { displayName } group { id name } } } }"""
AUDIT = """query ConsoleAudit($groupId: ID, $after: String) { auditLog(groupId: $groupId, first: 50, after: $after) {
  nodes { id action actorKind targetKind groupId reason detail createdAt } pageInfo { hasNextPage endCursor } } }"""
OPEN_COUNT = """query ConsoleQueueCount { moderationQueue(status: OPEN, first: 100) { nodes { id reason } } }"""
WORDS = """query ConsoleWords($category: SensitiveWordCategory) {
  sensitiveWords(category: $category, first: 100) { nodes { id word category note createdAt } }
  sensitiveWordExceptions { id phrase createdAt } }"""
WORD_ADD = """mutation ConsoleWordAdd($input: SensitiveWordAddInput!) { sensitiveWordAdd(input: $input) {
  word { id } errors { field code message } } }"""
WORD_REMOVE = """mutation ConsoleWordRemove($input: SensitiveWordRemoveInput!) { sensitiveWordRemove(input: $input) {
  word { id } errors { field code message } } }"""
EXCEPTION_ADD = """mutation ConsoleExceptionAdd($input: WordExceptionAddInput!) {
  sensitiveWordExceptionAdd(input: $input) { exception { id } errors { field code message } } }"""
EXCEPTION_REMOVE = """mutation ConsoleExceptionRemove($input: WordExceptionRemoveInput!) {
  sensitiveWordExceptionRemove(input: $input) { exception { id } errors { field code message } } }"""
RESTRICT = """mutation ConsoleRestrict($input: MemberRestrictInput!) { memberRestrict(input: $input) {
  membershipId state mutedUntil bannedUntil errors { field code message } } }"""

DECISIONS = ("KEEP", "HIDE", "REMOVE", "WARN", "MUTE", "BAN")
DECISION_LABELS = {
    "KEEP": "保留（发布）",
    "HIDE": "隐藏",
    "REMOVE": "删除",
    "WARN": "警告作者",
    "MUTE": "禁言作者",
    "BAN": "封禁作者",
}
RESTRICT_ACTIONS = ("member_mute", "member_ban")
ACTION_LABELS = {
    "moderate_keep": "审核：保留",
    "moderate_hide": "审核：隐藏",
    "moderate_remove": "审核：删除",
    "moderate_warn": "审核：警告",
    "moderate_mute": "审核：禁言",
    "moderate_ban": "审核：封禁",
    "moderation_claim": "认领",
    "auto_hide": "举报自动隐藏",
    "auto_hold": "自动暂缓",
    "emergency_escalate": "紧急求助上报",
    "member_mute": "禁言",
    "member_ban": "封禁",
    "member_unrestrict": "解除禁言/封禁",
    "join_approve": "同意入群",
    "join_reject": "拒绝入群",
    "role_change": "角色变更",
    "group_create": "创建社群",
    "post_flags": "置顶/锁定",
    "comment_remove": "删除评论",
    "answer_verify": "认证回答",
    "reveal_author": "查看匿名作者",
    "image_approve": "图片通过",
    "image_reject": "图片驳回",
    "word_add": "添加敏感词",
    "word_remove": "停用敏感词",
    "word_exception_add": "添加例外短语",
    "word_exception_remove": "删除例外短语",
}
WORD_CATEGORIES = {"BLOCK": "禁发", "HOLD": "待审", "AD": "广告/违规宣称", "EMERGENCY": "紧急求助"}
STATUSES = ("OPEN", "CLAIMED", "DECIDED")


def _in_future(moment: str | None) -> bool:
    return bool(moment) and datetime.fromisoformat(str(moment)) > clock.now()


def _int(value: str | None) -> int | None:
    return int(value) if value and value.lstrip("-").isdigit() and len(value) < 10 else None


HIT_LABELS = {"BLOCK": "禁发", "HOLD": "待审", "AD": "广告/违规宣称", "EMERGENCY": "紧急"}


def highlight(text: str, words: list[str]) -> Markup:
    """The text with the words the filter hit marked (the API lists them: ModerationItem.filterHits)."""
    if not text:
        return Markup("")
    found = [w for w in words if w and w.lower() in text.lower()]
    if not found:
        return escape(text)
    pattern = re.compile("|".join(re.escape(w) for w in sorted(found, key=len, reverse=True)), re.IGNORECASE)
    out, last = [], 0
    for match in pattern.finditer(text):
        out.append(escape(text[last : match.start()]))
        out.append(Markup('<mark class="hit">{}</mark>').format(match.group(0)))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


@staff_page(*MODERATION)
async def queue(c: Console) -> Response:
    status = c.request.query_params.get("status") or None
    if status not in (None, *STATUSES):
        status = None
    after = c.request.query_params.get("after") or None
    result = await c.run(QUEUE, {"status": status, "after": after})
    pages = await c.run(PAGES)
    connection = result.data.get("moderationQueue") or {"nodes": [], "pageInfo": {}}
    items = connection["nodes"]
    for item in items:
        hits = [hit["word"] for hit in item.get("filterHits") or ()]
        item["excerpt_html"] = highlight(item.get("excerpt") or "", hits)
        item["title_html"] = highlight(item.get("title") or "", hits)
    emergencies = [i for i in items if i["reason"] == "emergency" and i["status"] != "DECIDED"]
    others = [i for i in items if i not in emergencies]
    return await c.render(
        "moderation/queue.html",
        emergencies=emergencies,
        items=others,
        page_info=connection["pageInfo"],
        queue_status=status,
        statuses=STATUSES,
        on_call=((pages.data.get("myPages") or {}).get("nodes")) or [],
        decisions=DECISIONS,
        decision_labels=DECISION_LABELS,
        hit_labels=HIT_LABELS,
        errors=result.errors + pages.errors,
    )


@staff_page(*MODERATION)
async def claim(c: Console) -> Response:
    form = await c.form()
    item = {"itemId": form.get("itemId", ""), "version": _int(form.get("version")) or 0}
    result = await c.run(CLAIM, {"input": item})
    _, errors = result.payload("moderationClaim")
    await (c.flash_errors(errors) if errors else c.flash("已认领，请处理"))
    return c.redirect("/console/moderation")


@staff_page(*MODERATION)
async def decide(c: Console) -> Response:
    form = await c.form()
    decision = form.get("decision", "")
    payload: dict[str, Any] = {
        "itemId": form.get("itemId", ""),
        "version": _int(form.get("version")) or 0,
        "decision": decision if decision in DECISIONS else "KEEP",
        "reason": form.get("reason") or None,
    }
    if decision == "MUTE":
        payload["muteDays"] = _int(form.get("muteDays"))
    if decision == "BAN" and form.get("banDays"):
        payload["banDays"] = _int(form.get("banDays"))
    result = await c.run(DECIDE, {"input": payload})
    _, errors = result.payload("moderate")
    await (c.flash_errors(errors) if errors else c.flash(f"已处理：{DECISION_LABELS.get(decision, decision)}"))
    return c.redirect("/console/moderation")


@staff_page(*MODERATION)
async def requests(c: Console) -> Response:
    result = await c.run(REQUESTS)
    groups = []
    for group in (result.data.get("groups") or {}).get("nodes") or []:
        found = group.get("joinRequests") or {}
        if found.get("nodes"):
            groups.append({**group, "requests": found["nodes"]})
    return await c.render("moderation/requests.html", groups=groups, errors=result.errors)


@staff_page(*MODERATION)
async def request_decide(c: Console) -> Response:
    form = await c.form()
    approve = form.get("approve") == "1"
    decision = {"membershipId": form.get("membershipId", ""), "approve": approve, "reason": form.get("reason") or None}
    result = await c.run(REQUEST_DECIDE, {"input": decision})
    _, errors = result.payload("groupRequestDecide")
    await (c.flash_errors(errors) if errors else c.flash("已同意入群申请" if approve else "已拒绝入群申请"))
    return c.redirect("/console/moderation/requests")


@staff_page(*MODERATION)
async def members(c: Console) -> Response:
    groups = await c.run(GROUPS)
    log = await c.run(RESTRICTIONS)
    entries = [e for e in ((log.data.get("auditLog") or {}).get("nodes") or []) if e["action"] in RESTRICT_ACTIONS]
    ids = list(dict.fromkeys(e["targetId"] for e in entries))
    restricted = []
    if ids:
        found = await c.run(MEMBERSHIPS, {"ids": ids})
        for membership in found.data.get("nodes") or []:
            if membership and (membership.get("state") == "BANNED" or _in_future(membership.get("mutedUntil"))):
                reason = next((e["reason"] for e in entries if e["targetId"] == membership["id"]), None)
                restricted.append({**membership, "reason": reason})
    params = c.request.query_params
    return await c.render(
        "moderation/members.html",
        groups=(groups.data.get("groups") or {}).get("nodes") or [],
        restricted=restricted,
        target={
            "groupId": params.get("groupId", ""),
            "accountId": params.get("accountId", ""),
            "label": params.get("label", ""),
        },
        errors=groups.errors + log.errors,
    )


@staff_page(*MODERATION)
async def restrict(c: Console) -> Response:
    form = await c.form()
    action = form.get("action", "")
    payload: dict[str, Any] = {"reason": form.get("reason", "")}
    if form.get("membershipId"):
        payload["membershipId"] = form["membershipId"]
    else:
        payload["groupId"] = form.get("groupId", "")
        payload["accountId"] = form.get("accountId", "")
    if action == "mute":
        payload["muteDays"] = _int(form.get("days"))
    elif action == "ban":
        payload["ban"] = True
        payload["banDays"] = _int(form.get("days"))
    else:
        payload["lift"] = True
    result = await c.run(RESTRICT, {"input": payload})
    _, errors = result.payload("memberRestrict")
    labels = {"mute": "已禁言", "ban": "已封禁"}
    await (c.flash_errors(errors) if errors else c.flash(labels.get(action, "已解除禁言和封禁")))
    return c.redirect("/console/moderation/members")


@staff_page(*MODERATION)
async def open_count(c: Console) -> Response:
    """The live counter on the queue page (htmx polls it): open items now, emergencies apart."""
    result = await c.run(OPEN_COUNT)
    nodes = (result.data.get("moderationQueue") or {}).get("nodes") or []
    urgent = sum(1 for n in nodes if n["reason"] == "emergency")
    return render_page("moderation/_count.html", open=len(nodes), urgent=urgent, capped=len(nodes) >= 100)


@staff_page(*MODERATION)
async def audit(c: Console) -> Response:
    params = c.request.query_params
    group_id = params.get("groupId") or None
    action = params.get("action") or None
    result = await c.run(AUDIT, {"groupId": group_id, "after": params.get("after") or None})
    groups = await c.run(GROUPS)
    connection = result.data.get("auditLog") or {"nodes": [], "pageInfo": {}}
    entries = [e for e in connection["nodes"] if action is None or e["action"] == action]
    names = {g["id"]: g["name"] for g in (groups.data.get("groups") or {}).get("nodes") or []}
    return await c.render(
        "moderation/audit.html",
        entries=entries,
        page_info=connection["pageInfo"],
        groups=names,
        group_id=group_id,
        action=action,
        actions=ACTION_LABELS,
        errors=result.errors + groups.errors,
    )


@staff_page(Role.ADMIN)
async def words(c: Console) -> Response:
    category = c.request.query_params.get("category")
    result = await c.run(WORDS, {"category": category if category in WORD_CATEGORIES else None})
    return await c.render(
        "moderation/words.html",
        words=(result.data.get("sensitiveWords") or {}).get("nodes") or [],
        exceptions=result.data.get("sensitiveWordExceptions") or [],
        categories=WORD_CATEGORIES,
        category=category,
        errors=result.errors,
    )


@staff_page(Role.ADMIN)
async def word_change(c: Console) -> Response:
    form = await c.form()
    change = c.request.path_params["change"]
    variables: dict[str, str | None]
    if change == "add":
        variables = {"word": form.get("word", ""), "category": form.get("category", "")}
        variables["note"] = form.get("note") or None
        name, query, done = "sensitiveWordAdd", WORD_ADD, "已添加敏感词"
    elif change == "remove":
        variables = {"wordId": form.get("wordId", "")}
        name, query, done = "sensitiveWordRemove", WORD_REMOVE, "已停用敏感词"
    elif change == "exception-add":
        variables = {"phrase": form.get("phrase", "")}
        name, query, done = "sensitiveWordExceptionAdd", EXCEPTION_ADD, "已添加例外短语"
    else:
        variables = {"exceptionId": form.get("exceptionId", "")}
        name, query, done = "sensitiveWordExceptionRemove", EXCEPTION_REMOVE, "已删除例外短语"
    result = await c.run(query, {"input": variables})
    _, errors = result.payload(name)
    await (c.flash_errors(errors) if errors else c.flash(done))
    return c.redirect("/console/moderation/words")


ROUTES = [
    Route("/moderation", queue, methods=["GET"]),
    Route("/moderation/count", open_count, methods=["GET"]),
    Route("/moderation/audit", audit, methods=["GET"]),
    Route("/moderation/words", words, methods=["GET"]),
    Route("/moderation/words/{change:str}", word_change, methods=["POST"]),
    Route("/moderation/claim", claim, methods=["POST"]),
    Route("/moderation/decide", decide, methods=["POST"]),
    Route("/moderation/requests", requests, methods=["GET"]),
    Route("/moderation/requests/decide", request_decide, methods=["POST"]),
    Route("/moderation/members", members, methods=["GET"]),
    Route("/moderation/members/restrict", restrict, methods=["POST"]),
]
