"""Moderation rules: limits, thresholds, priorities, report weights, the crisis reply, and what each decision does."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from community.models import (
    ContentStatus,
    Decision,
    ItemReason,
    ReportReason,
)
from core.identity import Role

NEW_MEMBER_DAYS = 3
NEW_MEMBER_DAILY_LIMITS = {"post": 3, "comment": 10}
AUTO_HIDE_THRESHOLD = Decimal("3.00")
CLAIM_TTL = timedelta(minutes=30)  # a claim older than this may be taken over
CARE_TEAM_RECIPIENT = "care-team"
CARE_ROLES = (Role.DOCTOR, Role.HEALTH_MANAGER)
TARGET_KINDS = ("post", "comment")

PRIORITY_EMERGENCY = 100
PRIORITY_HIDDEN = 30  # auto-hidden by reports: someone's content is down until a human looks
PRIORITY_REPORTS = 20
PRIORITY_HELD = 10

# Report weights: staff with moderation or clinical roles 3.0 (one report hides), other staff 1.5;
# members: group moderators/owners/experts 2.0, members for 90+ days 1.5, members 1.0, readers who
# are not members 0.5; plus 0.25 per upheld report (up to 1.0), times the reporter's smoothed
# accuracy (upheld + 1) / (upheld + rejected + 1); clamped to [0.1, 3.0].
STAFF_WEIGHT = Decimal("3.00")
OTHER_STAFF_WEIGHT = Decimal("1.50")
SENIOR_MEMBER_DAYS = 90

HELP_TEXT = (
    "我们注意到您提到的情况可能需要紧急帮助。"
    "如果出现胸痛、呼吸困难、意识不清等情况，请立即拨打120急救电话，或尽快前往最近医院的急诊科。"
    "如果您正感到绝望或有伤害自己的想法，请拨打心理援助热线12356或400-161-9995（24小时），您并不孤单。"
    "您的内容暂时仅您本人可见，值班医护人员已收到提醒，会尽快与您联系。"
)


# what each decision does to the content
DECISION_STATUS = {
    Decision.KEEP: ContentStatus.PUBLISHED,
    Decision.HIDE: ContentStatus.HIDDEN,
    Decision.REMOVE: ContentStatus.REMOVED,
    Decision.WARN: ContentStatus.HIDDEN,
    Decision.MUTE: ContentStatus.HIDDEN,
    Decision.BAN: ContentStatus.REMOVED,
}


ITEM_REASON_LABELS = {
    ItemReason.REPORTS: "用户举报",
    ItemReason.HELD_WORD: "敏感词待审",
    ItemReason.AD_CLAIM: "广告或医疗功效宣传",
    ItemReason.EMERGENCY: "紧急求助",
}


REPORT_REASON_LABELS = {
    ReportReason.SPAM: "广告或垃圾信息",
    ReportReason.ABUSE: "辱骂或人身攻击",
    ReportReason.MISINFORMATION: "不实医疗信息",
    ReportReason.PRIVACY: "泄露他人隐私",
    ReportReason.ILLEGAL: "违法违规",
    ReportReason.SELF_HARM: "可能有自伤风险",
    ReportReason.OTHER: "其他",
}
