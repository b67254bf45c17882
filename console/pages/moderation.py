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
from console.web import Console, staff_page
from core import clock

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


ROUTES = [
    Route("/moderation", queue, methods=["GET"]),
    Route("/moderation/claim", claim, methods=["POST"]),
    Route("/moderation/decide", decide, methods=["POST"]),
    Route("/moderation/requests", requests, methods=["GET"]),
    Route("/moderation/requests/decide", request_decide, methods=["POST"]),
    Route("/moderation/members", members, methods=["GET"]),
    Route("/moderation/members/restrict", restrict, methods=["POST"]),
]
