"""Consent notices: the versioned texts a patient reads before a consent answer, and their seed.

Migration 0022 inserted the same three notices when the table was created; `ensure_default_notices`
puts them back (tests, a fresh demo) without touching notices that exist. A notice is never edited:
an admin publishes a new version (patients/consents.py).
"""

from __future__ import annotations

import hashlib

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.ids import new_id
from patients.models import ConsentNotice, ConsentPurpose

# version, purpose (covered and, being the first text for it, changed), title, body
DEFAULT_NOTICES = [
    (
        1,
        ConsentPurpose.SERVICE,
        "服务通知授权说明",
        "为向您提供预约、就诊、随访、积分与社群等服务，我们会通过您选择的渠道（站内消息、短信、"
        "电子邮件、微信）向您发送服务通知，例如预约与就诊提醒、就诊后满意度调查、积分到账与兑换进度、"
        "活动报名结果。服务通知不含营销内容，短信与锁屏通知中不会出现疾病名称。您可随时在“隐私与授权”"
        "中关闭某一渠道的服务通知。",
    ),
    (
        2,
        ConsentPurpose.MARKETING,
        "营销推送授权说明",
        "经您同意，我们会通过您选择的渠道向您推送健康讲座、义诊活动、会员权益与优惠信息。我们依据您的"
        "会员等级、就诊阶段、所在院区等一般信息挑选推送内容；除非您另行单独同意，不会依据您的病种等敏感"
        "健康信息挑选。推送受频次限制，夜间免打扰，短信与锁屏通知中不会出现疾病名称。您可随时在“隐私与"
        "授权”中撤回，或回复短信“退订”；撤回不影响撤回前已进行的推送。",
    ),
    (
        3,
        ConsentPurpose.MARKETING_SENSITIVE,
        "基于敏感健康信息的个性化推送授权说明",
        "本授权为单独同意（《个人信息保护法》第二十九条、第三十条）。经您单独同意，我们会依据您在本平台"
        "登记的病种（可能包括抑郁症、孕产期、肿瘤术后、慢性肾病等敏感健康信息）为您挑选相关的健康讲座、"
        "康复活动与会员权益信息。敏感健康信息一旦泄露或被非法使用，可能导致您的人格尊严受到侵害或人身、"
        "财产安全受到危害；我们仅在本授权范围内使用，推送的标题、短信与锁屏通知中不会出现疾病名称。"
        "不同意不影响您使用任何诊疗与会员服务。您可随时撤回本授权，撤回后我们不再据此向您推送。",
    ),
]


def text_sha256(body: str) -> str:
    """The hash recorded with every answer: of the body's UTF-8 bytes, so anyone can recompute it."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


async def ensure_default_notices(session: AsyncSession) -> None:
    now = clock.now()
    await session.execute(
        insert(ConsentNotice)
        .values(
            [
                {
                    "id": new_id(),
                    "version": version,
                    "title": title,
                    "body": body,
                    "body_sha256": text_sha256(body),
                    "purposes": [purpose.value],
                    "changed_purposes": [purpose.value],
                    "published_at": now,
                    "published_by": None,
                }
                for version, purpose, title, body in DEFAULT_NOTICES
            ]
        )
        .on_conflict_do_nothing(index_elements=["version"])
    )
