"""Why a patient got (or did not get) a campaign message, in words for the marketing staff: the audience
that chose them, the consent the send relied on, the channel picked and those passed over, the frequency
cap, a quiet-hours deferral, or why it was skipped. Read by the API's CampaignDelivery.explanation and,
through it, the console's trace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from campaigns import models as m
from core.channels import CHANNEL_LABELS_ZH


@dataclass(frozen=True)
class Consent:
    channel: str
    purpose: str
    given_at: datetime | None
    source: str | None


@dataclass(frozen=True)
class Explanation:
    summary: str
    chosen_because: str
    criteria: dict[str, Any] | None  # the audience criteria the campaign froze
    consent: Consent | None
    skipped_because: str | None
    channel_because: str
    frequency: str | None
    deferred_until: datetime | None
    detail: dict[str, Any]  # the raw record: channel attempts, the check at send time


SKIP_TEXT = {
    "suppressed": "已屏蔽",
    "no_consent": "未获得该用途的渠道授权",
    "no_address": "缺少联系方式",
    "frequency_cap": "超过营销消息频次上限",
    "cancelled": "活动已取消",
}
SUPPRESSION_TEXT = {
    "deceased": "患者已故",
    "admitted": "患者住院中",
    "staff": "员工账号",
    "opted_out": "已退订全部营销消息",
    "minor": "未成年人（不接收营销消息）",
}


def explain(delivery: m.Delivery, campaign: m.Campaign | None) -> Explanation:
    """Why this delivery was made, sent or skipped, from what the runner and the sender recorded."""
    reason = dict(delivery.reason or {})
    audience = reason.get("audience")
    if audience == "segment":
        chosen = f"符合人群「{reason.get('segment') or ''}」的条件"
    elif audience == "event":
        chosen = "是活动的受邀者或报名者"
    else:
        chosen = f"自动旅程「{reason.get('journey') or ''}」的触发对象"
    consent = None
    if delivery.consent:
        c = delivery.consent
        consent = Consent(
            channel=c.get("channel", ""),
            purpose=c.get("purpose", ""),
            given_at=datetime.fromisoformat(c["given_at"]) if c.get("given_at") else None,
            source=c.get("source"),
        )
    skipped = None
    if delivery.skip_reason:
        skipped = SKIP_TEXT.get(delivery.skip_reason, delivery.skip_reason)
        if delivery.skip_reason == "suppressed":
            why = reason.get("suppressed") or (reason.get("at_send") or {}).get("suppressed")
            skipped += f"：{SUPPRESSION_TEXT.get(why, why)}" if why else ""
        tried = reason.get("tried") or []
        if tried and delivery.skip_reason in ("no_consent", "no_address"):
            parts = [f"{t['channel']}缺少{'授权' if t['missing'] == 'consent' else '联系方式'}" for t in tried]
            skipped += "（" + "，".join(parts) + "）"
    if skipped:
        summary = f"{chosen}；未发送：{skipped}"
    elif consent:
        summary = f"{chosen}；凭{consent.channel}渠道的{consent.purpose}授权（来源：{consent.source}）发送"
    else:
        summary = chosen
    return Explanation(
        summary=summary,
        chosen_because=chosen,
        criteria=campaign.criteria_snapshot if campaign else None,
        consent=consent,
        skipped_because=skipped,
        channel_because=_channel_because(delivery, reason),
        frequency=_frequency(delivery, reason),
        # Deferred at materialisation or by the sender: either way not_before moved past its creation.
        deferred_until=delivery.not_before if delivery.not_before > delivery.created_at + QUIET_SLACK else None,
        detail=reason,
    )


QUIET_SLACK = timedelta(seconds=1)
CLASS_TEXT = {"marketing": "营销", "care": "关怀"}


def _channel_because(delivery: m.Delivery, reason: dict[str, Any]) -> str:
    passed = [
        f"{CHANNEL_LABELS_ZH.get(t['channel'], t['channel'])}缺少{'授权' if t['missing'] == 'consent' else '联系方式'}"
        for t in reason.get("tried") or []
    ]
    if delivery.channel is None:
        return "未选出渠道" + (f"（{'，'.join(passed)}）" if passed else "")
    chosen = f"渠道：{CHANNEL_LABELS_ZH.get(delivery.channel, delivery.channel)}"
    return chosen + (f"（{'，'.join(passed)}，改用此渠道）" if passed else "（活动的首选渠道）")


def _frequency(delivery: m.Delivery, reason: dict[str, Any]) -> str | None:
    klass = CLASS_TEXT.get(delivery.kind, delivery.kind)
    if delivery.skip_reason == "frequency_cap":
        at_send = reason.get("at_send") or {}
        return f"近期已收到{at_send.get('recent', '?')}条{klass}消息，达到上限{at_send.get('cap', '?')}条，未发送"
    if delivery.sent_at is not None:
        return f"发送时未超过{klass}消息频次上限"
    return None
