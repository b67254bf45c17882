"""A campaign's own body per channel: each channel sends its own text or the common body; the SMS and
WeChat texts (own or common) are held to the lock-screen rule that keeps condition names out; every
body's template variables are checked; a body only for a channel the campaign uses, once, of a valid
length; a submit checks the texts again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from campaigns import service
from core import clock
from core.db import unit_of_work
from core.errors import ValidationFailed
from messaging.models import MessageDelivery
from tests.campaigns.support import MARKETER, REVIEWER, make_patient, run, segment

NOON = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
IN_APP = "{nickname}您好，糖尿病友控糖讲座本周六开讲，欢迎报名。"  # behind a sign-in: may name the condition
SMS = "{nickname}您好，本周六健康讲座开讲，详情请打开康宁App查看。"


def _input(seg, channels: list[str], body: str = IN_APP, bodies: tuple[tuple[str, str], ...] = ()):
    return service.CampaignInput(
        name="控糖讲座", kind="marketing", channels=channels, body=body, segment_id=seg, channel_bodies=bodies
    )


async def _issues(data: service.CampaignInput) -> set[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        async with unit_of_work() as session:
            await service.create_campaign(session, MARKETER, data)
    return {(i.field or "", i.code) for i in caught.value.issues}


async def test_each_channel_sends_its_own_body_or_the_common_one():
    clock.clock.freeze(NOON)
    by_sms = await make_patient(consents=[("sms", "marketing")])
    in_app = await make_patient(consents=[("in_app", "marketing")])
    seg = await segment()
    async with unit_of_work() as session:
        campaign = await service.create_campaign(
            session, MARKETER, _input(seg, ["sms", "in_app"], bodies=(("sms", SMS),))
        )
        assert campaign.channel_bodies == {"sms": SMS}
        assert campaign.body_for("sms") == SMS and campaign.body_for("in_app") == IN_APP
        await service.submit(session, MARKETER, campaign.id)
    async with unit_of_work() as session:
        await service.approve(session, REVIEWER, campaign.id)
    await run(campaign.id)
    async with unit_of_work() as session:
        sent = {
            row.patient_id: (row.channel, row.body)
            for row in await session.scalars(
                select(MessageDelivery).where(MessageDelivery.source_ref.like("campaign_delivery:%"))
            )
        }
    assert sent[by_sms][0] == "sms" and "本周六健康讲座开讲" in sent[by_sms][1] and "糖尿病" not in sent[by_sms][1]
    assert sent[in_app][0] == "in_app" and "糖尿病友控糖讲座" in sent[in_app][1]


async def test_lock_screen_texts_never_name_a_condition_and_every_body_is_checked():
    clock.clock.freeze(NOON)
    seg = await segment()
    # The common body names the condition and SMS falls back to it: refused on `body`.
    assert ("body", "TEMPLATE_CONDITION_NAME") in await _issues(_input(seg, ["sms", "in_app"]))
    # An SMS or WeChat body of its own naming a condition: refused on that body.
    for channel in ("sms", "wechat"):
        found = await _issues(_input(seg, [channel, "in_app"], bodies=((channel, "乳腺癌术后复查提醒"),)))
        assert (f"channelBodies.{channel}", "TEMPLATE_CONDITION_NAME") in found
    # An e-mail body may name it (it sits behind a sign-in, like in-app).
    async with unit_of_work() as session:
        await service.create_campaign(
            session, MARKETER, _input(seg, ["email", "sms"], body=SMS, bodies=(("email", IN_APP),))
        )
    bad_variables = await _issues(_input(seg, ["sms", "in_app"], bodies=(("sms", "{diagnosis}您好"),)))
    assert ("channelBodies.sms", "TEMPLATE_UNKNOWN_VARIABLE") in bad_variables
    unused_common = await _issues(_input(seg, ["sms"], body="{oops}", bodies=(("sms", SMS),)))
    assert ("body", "TEMPLATE_UNKNOWN_VARIABLE") in unused_common  # checked even when no channel uses it
    wrong = await _issues(
        _input(
            seg,
            ["sms", "in_app"],
            bodies=(("sms", SMS), ("sms", SMS), ("wechat", SMS), ("fax", SMS), ("in_app", " "), ("in_app", "x")),
        )
    )
    assert {
        ("channelBodies.sms", "CHANNEL_DUPLICATE"),
        ("channelBodies.wechat", "CHANNEL_BODY_UNUSED"),
        ("channelBodies", "CHANNEL_INVALID"),
        ("channelBodies.in_app", "BODY_LENGTH"),
    } <= wrong
    assert ("channelBodies.sms", "BODY_LENGTH") in await _issues(
        _input(seg, ["sms"], body=SMS, bodies=(("sms", "短" * 1001),))
    )


async def test_an_update_replaces_the_bodies_and_a_submit_checks_them_again():
    clock.clock.freeze(NOON)
    seg = await segment()
    async with unit_of_work() as session:
        campaign = await service.create_campaign(
            session, MARKETER, _input(seg, ["sms", "in_app"], bodies=(("sms", SMS),))
        )
        updated = await service.update_campaign(session, MARKETER, campaign.id, _input(seg, ["in_app"]))
        assert updated.channel_bodies == {} and updated.body_for("sms") == IN_APP
        # A body slipped past the checks (written directly): the submit refuses it.
        updated.channels = ["sms"]
        updated.channel_bodies = {"sms": "肿瘤复查提醒"}
        with pytest.raises(ValidationFailed) as caught:
            await service.submit(session, MARKETER, campaign.id)
    assert ("channelBodies.sms", "TEMPLATE_CONDITION_NAME") in {(i.field, i.code) for i in caught.value.issues}
