"""campaigns/explain.py without HTTP: the words a marketer reads for a delivery, from what the runner and
the sender recorded (CampaignDelivery.explanation and the console's trace show exactly these)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from campaigns import explain
from campaigns.models import Delivery

AT = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


def _delivery(**values: Any) -> Delivery:
    base: dict[str, Any] = {
        "id": uuid.uuid4(),
        "campaign_id": uuid.uuid4(),
        "patient_id": uuid.uuid4(),
        "kind": "marketing",
        "channel": None,
        "status": "queued",
        "skip_reason": None,
        "reason": {},
        "consent": None,
        "not_before": AT,
        "created_at": AT,
        "sent_at": None,
    }
    return Delivery(**{**base, **values})


def test_a_sent_delivery_names_its_segment_consent_and_the_channel_it_fell_back_to() -> None:
    d = _delivery(
        channel="sms",
        status="sent",
        sent_at=AT,
        reason={"audience": "segment", "segment": "糖友", "tried": [{"channel": "wechat", "missing": "consent"}]},
        consent={"channel": "sms", "purpose": "marketing", "given_at": AT.isoformat(), "source": "app"},
    )
    e = explain.explain(d, None)
    assert e.chosen_because == "符合人群「糖友」的条件"
    assert e.channel_because == "渠道：短信（微信缺少授权，改用此渠道）"
    assert e.summary == "符合人群「糖友」的条件；凭sms渠道的marketing授权（来源：app）发送"
    assert e.consent == explain.Consent(channel="sms", purpose="marketing", given_at=AT, source="app")
    assert e.frequency == "发送时未超过营销消息频次上限"
    assert e.skipped_because is None and e.deferred_until is None and e.criteria is None


def test_a_skipped_delivery_says_why_and_a_deferred_one_until_when() -> None:
    minor = _delivery(skip_reason="suppressed", status="skipped", reason={"audience": "event", "suppressed": "minor"})
    e = explain.explain(minor, None)
    assert e.skipped_because == "已屏蔽：未成年人（不接收营销消息）"
    assert e.summary == "是活动的受邀者或报名者；未发送：已屏蔽：未成年人（不接收营销消息）"
    assert e.channel_because == "未选出渠道"

    reason = {"journey": "沉睡唤醒", "at_send": {"recent": 3, "cap": 3}}
    capped = _delivery(skip_reason="frequency_cap", status="skipped", reason=reason)
    assert explain.explain(capped, None).frequency == "近期已收到3条营销消息，达到上限3条，未发送"

    later = AT + timedelta(hours=7)
    deferred = _delivery(channel="sms", not_before=later, reason={"audience": "segment", "segment": "糖友"})
    assert explain.explain(deferred, None).deferred_until == later
