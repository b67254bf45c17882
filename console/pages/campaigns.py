"""Campaigns: the list by status, compose (channels in order, a body of its own per channel or the
common one, template variables, a live preview per channel rendered for a sample patient of the segment),
submit for review, approve or reject (reviewers), send now, pause, resume, cancel, and each campaign's
stats: the delivery funnel and the deliveries with why each patient got (or did not get) the message."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import Response
from starlette.routing import Route

from console.menu import CAMPAIGN_REVIEWERS, CAMPAIGNS, MARKETING
from console.web import Console, render_page, staff_page
from messaging.templates import VARIABLE_LABELS

ZONE = ZoneInfo("Asia/Shanghai")
CAMPAIGN_FIELDS = """id name kind status audienceKind segment { id name } channels subject body link scheduledAt
  reviewComment reviewedAt startedAt finishedAt audienceCount createdAt"""
LIST = f"""query ConsoleCampaigns($status: CampaignStatus, $after: String) {{
  campaigns(status: $status, first: 30, after: $after) {{ nodes {{ {CAMPAIGN_FIELDS} }}
    pageInfo {{ hasNextPage endCursor }} }} }}"""
SEGMENTS = """query ConsoleCampaignSegments { segments(first: 50) { nodes { id name } } }"""
ONE = f"""query ConsoleCampaign($id: ID!) {{ node(id: $id) {{ ... on Campaign {{ {CAMPAIGN_FIELDS}
  channelBodies {{ channel body }} }} }} }}"""
STATS = """query ConsoleCampaignStats($id: ID!, $status: CampaignDeliveryStatus, $after: String) {
  campaignStats(campaignId: $id) { audience sent delivered opened converted conversionRate pointsCost }
  campaignDeliveries(campaignId: $id, status: $status, first: 50, after: $after) {
    nodes { id channel status skipReason sentAt deliveredAt openedAt error patient { id nickname phone }
      explanation { summary } }
    pageInfo { hasNextPage endCursor } } }"""
SAMPLE = """query ConsoleCampaignSample($segmentId: ID, $kind: CampaignClass!) {
  segmentPreview(segmentId: $segmentId, kind: $kind) { sample { id nickname } } }"""
PREVIEW = """query ConsoleMessagePreview($input: MessageTemplatePreviewInput!) { messageTemplatePreview(input: $input) {
  channel subject body issues { code message } } }"""
CREATE = """mutation ConsoleCampaignCreate($input: CampaignInput!) { campaignCreate(input: $input) {
  campaign { id } errors { field code message } } }"""
STEP = """mutation ConsoleCampaignStep($input: CampaignIdInput!) {{ {name}(input: $input) {{
  campaign {{ id status }} errors {{ field code message }} }} }}"""
REVIEW = """mutation ConsoleCampaignReview($input: CampaignReviewInput!) {{ {name}(input: $input) {{
  campaign {{ id status }} errors {{ field code message }} }} }}"""

STATUSES = {
    "DRAFT": "草稿",
    "PENDING_REVIEW": "待审核",
    "APPROVED": "已通过",
    "RUNNING": "发送中",
    "PAUSED": "已暂停",
    "COMPLETED": "已完成",
    "CANCELLED": "已取消",
}
CHANNELS = {"in_app": "站内信", "sms": "短信", "wechat": "微信", "email": "电子邮件"}
DELIVERY_STATUSES = {
    "QUEUED": "排队中",
    "SENT": "已发送",
    "DELIVERED": "已送达",
    "OPENED": "已打开",
    "CLICKED": "已点击",
    "FAILED": "失败",
    "SKIPPED": "已跳过",
}
# (mutation, label, the statuses it applies to, who may)
STEPS = {
    "submit": ("campaignSubmit", "提交审核", ("DRAFT",), CAMPAIGNS),
    "send-now": ("campaignSendNow", "立即发送", ("APPROVED",), CAMPAIGNS),
    "pause": ("campaignPause", "暂停", ("RUNNING", "APPROVED"), MARKETING),
    "resume": ("campaignResume", "继续", ("PAUSED",), MARKETING),
    "cancel": ("campaignCancel", "取消", ("DRAFT", "PENDING_REVIEW", "APPROVED", "RUNNING", "PAUSED"), MARKETING),
}


@staff_page(*MARKETING)
async def campaigns(c: Console) -> Response:
    status = c.request.query_params.get("status") or None
    if status not in (None, *STATUSES):
        status = None
    result = await c.run(LIST, {"status": status, "after": c.request.query_params.get("after") or None})
    segments = await c.run(SEGMENTS)
    connection = result.data.get("campaigns") or {"nodes": [], "pageInfo": {}}
    return await c.render(
        "marketing/campaigns.html",
        campaigns=connection["nodes"],
        page_info=connection["pageInfo"],
        status_filter=status,
        statuses=STATUSES,
        channels=CHANNELS,
        segments=(segments.data.get("segments") or {}).get("nodes") or [],
        variables=VARIABLE_LABELS,
        errors=result.errors,
    )


@staff_page(*CAMPAIGNS)
async def create(c: Console) -> Response:
    form, lists = await c.form(), await c.form_lists()
    channels = [ch for ch in lists.get("channels", []) if ch in CHANNELS]
    scheduled = None
    if form.get("scheduledAt"):
        try:
            scheduled = datetime.fromisoformat(form["scheduledAt"]).replace(tzinfo=ZONE).isoformat()
        except ValueError:
            await c.flash("发送时间格式不正确", "error")
            return c.redirect("/console/marketing/campaigns")
    variables: dict[str, Any] = {
        "name": form.get("name", ""),
        "kind": form.get("kind") if form.get("kind") in ("MARKETING", "CARE") else "MARKETING",
        "channels": channels,
        "subject": form.get("subject") or None,
        "body": form.get("body", ""),
        "channelBodies": channel_bodies(form),
        "link": form.get("link") or None,
        "audienceKind": "SEGMENT",
        "segmentId": form.get("segmentId") or None,
        "scheduledAt": scheduled,
    }
    result = await c.run(CREATE, {"input": variables})
    payload, errors = result.payload("campaignCreate")
    if errors or not payload or not payload.get("campaign"):
        await c.flash_errors(errors)
        return c.redirect("/console/marketing/campaigns")
    await c.flash("已创建活动草稿")
    return c.redirect(f"/console/marketing/campaigns/{payload['campaign']['id']}")


def channel_bodies(form: dict[str, str]) -> list[dict[str, str]]:
    """The compose form's own body per channel (`body_<channel>`, left empty: the common body)."""
    return [{"channel": ch, "body": form[f"body_{ch}"]} for ch in CHANNELS if form.get(f"body_{ch}")]


async def _previews(
    c: Console,
    *,
    segment_id: str | None,
    kind: str,
    channels: list[str],
    subject: str | None,
    body: str,
    bodies: dict[str, str],
) -> tuple[list[dict[str, Any]], str | None]:
    """Each channel's text as it would reach the segment's first sample patient, with the template issues
    (the lock-screen rule for SMS and WeChat); the sample's nickname (None: nothing to render for)."""
    if not segment_id or not channels:
        return [], None
    sample = await c.run(SAMPLE, {"segmentId": segment_id, "kind": kind})
    patients = (sample.data.get("segmentPreview") or {}).get("sample") or []
    if not patients:
        return [], None
    shown = []
    for channel in channels:
        variables = {
            "input": {
                "channel": channel.upper(),
                "subject": subject or None,
                "body": bodies.get(channel) or body,
                "patientId": patients[0]["id"],
            }
        }
        rendered = (await c.run(PREVIEW, variables)).data.get("messageTemplatePreview")
        if rendered:
            shown.append({**rendered, "code": channel, "own": channel in bodies})
    return shown, patients[0]["nickname"]


@staff_page(*MARKETING)
async def detail(c: Console) -> Response:
    campaign_id = c.request.path_params["campaign_id"]
    found = await c.run(ONE, {"id": campaign_id})
    campaign = found.data.get("node")
    if not campaign or "status" not in campaign:
        return await c.render("refused.html", http_status=404, title="活动不存在", detail="该活动不存在或无权查看。")
    status = c.request.query_params.get("status") or None
    if status not in (None, *DELIVERY_STATUSES):
        status = None
    stats = await c.run(STATS, {"id": campaign_id, "status": status, "after": c.request.query_params.get("after")})
    numbers = stats.data.get("campaignStats")
    deliveries = stats.data.get("campaignDeliveries") or {"nodes": [], "pageInfo": {}}
    funnel = None
    if numbers:
        stages = (("目标人数", "audience"), ("已发送", "sent"), ("已送达", "delivered"), ("已打开", "opened"))
        data = [{"name": label, "value": numbers[key]} for label, key in stages]
        data.append({"name": "已转化（就诊）", "value": numbers["converted"]})
        funnel = json.dumps({"type": "funnel", "series": [{"name": "投放漏斗", "data": data}]}, ensure_ascii=False)
    steps = {
        key: (label, roles)
        for key, (_, label, statuses, roles) in STEPS.items()
        if campaign["status"] in statuses and c.can(*roles)
    }
    previews: list[dict[str, Any]] = []
    sample = None
    if c.can(*CAMPAIGNS):  # a preview reads a sample patient's data: marketers only (messaging/templates.py)
        previews, sample = await _previews(
            c,
            segment_id=(campaign.get("segment") or {}).get("id"),
            kind=campaign["kind"],
            channels=list(campaign.get("channels") or []),
            subject=campaign.get("subject"),
            body=campaign["body"],
            bodies={b["channel"]: b["body"] for b in campaign.get("channelBodies") or []},
        )
    return await c.render(
        "marketing/campaign.html",
        campaign=campaign,
        stats=numbers,
        funnel=funnel,
        deliveries=deliveries["nodes"],
        page_info=deliveries["pageInfo"],
        delivery_filter=status,
        delivery_statuses=DELIVERY_STATUSES,
        statuses=STATUSES,
        channels=CHANNELS,
        steps=steps,
        reviewer=c.can(*CAMPAIGN_REVIEWERS) and campaign["status"] == "PENDING_REVIEW",
        own_bodies={b["channel"]: b["body"] for b in campaign.get("channelBodies") or []},
        previews=previews,
        preview_patient=sample,
        errors=found.errors + stats.errors,
    )


@staff_page(*CAMPAIGNS)
async def compose_preview(c: Console) -> Response:
    """The compose form's live preview (htmx): every chosen channel's text for a sample patient."""
    form, lists = await c.form(), await c.form_lists()
    previews, sample = await _previews(
        c,
        segment_id=form.get("segmentId") or None,
        kind=form["kind"] if form.get("kind") in ("MARKETING", "CARE") else "MARKETING",
        channels=[ch for ch in lists.get("channels", []) if ch in CHANNELS],
        subject=form.get("subject"),
        body=form.get("body", ""),
        bodies={b["channel"]: b["body"] for b in channel_bodies(form)},
    )
    return render_page("marketing/_compose_preview.html", previews=previews, preview_patient=sample, channels=CHANNELS)


@staff_page(*MARKETING)
async def step(c: Console) -> Response:
    campaign_id, key = c.request.path_params["campaign_id"], c.request.path_params["step"]
    if key not in STEPS:
        return c.redirect(f"/console/marketing/campaigns/{campaign_id}")
    name, label, _, _ = STEPS[key]
    result = await c.run(STEP.format(name=name), {"input": {"campaignId": campaign_id}})
    _, errors = result.payload(name)
    await (c.flash_errors(errors) if errors else c.flash(f"已{label}"))
    return c.redirect(f"/console/marketing/campaigns/{campaign_id}")


@staff_page(*CAMPAIGN_REVIEWERS)
async def review(c: Console) -> Response:
    campaign_id = c.request.path_params["campaign_id"]
    form = await c.form()
    approve = form.get("decision") == "approve"
    name = "campaignApprove" if approve else "campaignReject"
    variables = {"input": {"campaignId": campaign_id, "comment": form.get("comment") or None}}
    result = await c.run(REVIEW.format(name=name), variables)
    _, errors = result.payload(name)
    await (c.flash_errors(errors) if errors else c.flash("已审核通过" if approve else "已驳回"))
    return c.redirect(f"/console/marketing/campaigns/{campaign_id}")


ROUTES = [
    Route("/marketing/campaigns", campaigns, methods=["GET"]),
    Route("/marketing/campaigns/new", create, methods=["POST"]),
    Route("/marketing/campaigns/preview", compose_preview, methods=["POST"]),
    Route("/marketing/campaigns/{campaign_id:str}", detail, methods=["GET"]),
    Route("/marketing/campaigns/{campaign_id:str}/review", review, methods=["POST"]),
    Route("/marketing/campaigns/{campaign_id:str}/{step:str}", step, methods=["POST"]),
]
