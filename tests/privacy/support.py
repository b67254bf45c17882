"""A patient with data in every domain, made through the domains' own services (the copy must find it
all, the erasure must remove or keep each piece as the rules say)."""

from __future__ import annotations

import gzip
import json
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from care import complaints, conversations, surveys
from community import bookmarks, events, posts, sharing
from community.checkins import check_in
from core import clock
from core.db import unit_of_work
from core.identity import Role
from loyalty import rewards
from media import service as media_service
from media.models import ImagePurpose
from messaging import inbox
from patients import service as patient_service
from patients.models import ConsentChannel, ConsentPurpose, ConsentSource
from privacy import reads
from privacy.models import DataExport, PhiKind
from social import blocks, follows, profiles
from social.accounts import Account
from tests.care.support import surveyed_visit
from tests.factories import as_patient, make_group, make_site, make_staff, member_of, new_member, staff
from tests.loyalty.support import give_points, make_reward
from tests.media.images import png

MARKETER = staff(Role.MARKETER)


@dataclass
class Rich:
    pid: uuid.UUID
    group: uuid.UUID
    post: uuid.UUID
    anonymous_post: uuid.UUID
    comment: uuid.UUID
    neighbour_post: uuid.UUID
    event: uuid.UUID
    reward: uuid.UUID
    complaint: uuid.UUID
    survey: uuid.UUID


async def rich_patient(pid: uuid.UUID | None = None) -> Rich:
    """Profile, a condition, consents, a visit with its survey answered, pending and available points,
    an open voucher, a group with posts (one anonymous), a comment, a reaction, a bookmark and a share
    link (with their referral code), an avatar image, a profile with a bio, follows both ways, a followed
    tag and a block, a check-in with a note,
    an event registration, a complaint, a conversation with the care team, an inbox message and a staff
    read of their conditions.

    Moves the clock one day on (the survey arrives the day after the visit)."""
    pid = pid or await new_member()
    site = await make_site(f"P{uuid.uuid4().hex[:6]}")
    survey = await surveyed_visit(pid, site, f"V-PRIV-{uuid.uuid4().hex[:8]}")  # pending points too
    group = await make_group(allow_anonymous=True)
    await member_of(group, pid)
    neighbour = await member_of(group)
    patient = as_patient(pid)
    async with unit_of_work() as session:
        await patient_service.update_profile(
            session,
            patient,
            patient_service.ProfileChanges(
                real_name="张三",
                email="zhangsan@example.cn",
                birth_year=1980,
                birth_date=date(1980, 5, 6),
                condition_codes=["diabetes"],
            ),
        )
        await patient_service.update_consents(
            session,
            patient,
            [patient_service.ConsentChange(ConsentChannel.SMS.value, ConsentPurpose.MARKETING.value, True)],
            source=ConsentSource.APP.value,
        )
        post = (
            await posts.create_post(
                session,
                patient,
                group_id=group,
                kind="experience",
                title="控糖经验分享",
                body="每天快走一小时，空腹血糖稳定",
            )
        ).item
        anonymous = (
            await posts.create_post(
                session,
                patient,
                group_id=group,
                kind="question",
                title="匿名请教",
                body="胰岛素针头可以重复用吗",
                anonymous=True,
            )
        ).item
        comment = (await posts.create_comment(session, patient, post_id=post.id, body="补充：饭后也要走一走")).item
        theirs = (
            await posts.create_post(
                session, as_patient(neighbour), group_id=group, kind="discussion", title="今天的早餐", body="燕麦加鸡蛋"
            )
        ).item
        await posts.react(session, patient, target_kind="post", target_id=theirs.id, kind="like")
        await bookmarks.add(session, patient, kind="post", target_id=theirs.id)
        await sharing.create(session, patient, kind="post", target_id=theirs.id)
        await profiles.update(session, patient, profiles.ProfileUpdate(bio="控糖五年，爱好快走"))
        await follows.follow(session, patient, Account("patient", neighbour))
        await follows.follow(session, as_patient(neighbour), Account("patient", pid))
        await follows.follow_tag(session, patient, "控糖")
        await blocks.block(session, patient, Account("patient", await _someone()))
        await check_in(session, patient, kind="glucose", value={"mmol": 6.1, "context": "fasting"}, note="早饭前测")
        await conversations.start(session, patient, subject="用药咨询", body="二甲双胍饭前还是饭后吃？")
        filed = await complaints.file(session, patient, body="取药窗口排队太久，没人解释", visit_id=None)
        await surveys.answer(session, patient, survey.id, 9, "医生很耐心")
        await inbox.put(
            session,
            patient_id=pid,
            subject="欢迎",
            body="欢迎加入康宁会员",
            link=None,
            source_ref=f"test:welcome:{pid}",
            tracked=False,
        )
        now = clock.now()
        event = (
            await events.create_event(
                session,
                MARKETER,
                events.EventInput(
                    kind="online_lecture",
                    title="糖尿病饮食讲座",
                    starts_at=now + timedelta(days=30),
                    ends_at=now + timedelta(days=30, hours=1),
                    capacity=1,
                    online_link="https://live.example.cn/lecture",
                ),
            )
        )[0]
        await events.rsvp(session, patient, event.id, "going")
    async with unit_of_work() as session:
        await media_service.upload(session, patient, data=png(), purpose=ImagePurpose.AVATAR)
    doctor = await make_staff(f"doc-{uuid.uuid4().hex[:8]}@example.cn", [Role.DOCTOR], name="王医生")
    async with unit_of_work() as session:
        await reads.record_reads(session, staff(Role.DOCTOR, staff_id=doctor), PhiKind.CONDITIONS, [pid])
    await give_points(pid, 500)
    reward = await make_reward(cost=100, stock=5)
    async with unit_of_work() as session:
        await rewards.redeem(session, patient, reward, f"priv-{uuid.uuid4().hex[:8]}")
    return Rich(pid, group, post.id, anonymous.id, comment.id, theirs.id, event.id, reward, filed.id, survey.id)


async def _someone() -> uuid.UUID:
    return await new_member()


async def stored_copy(export_id: uuid.UUID) -> dict[str, Any]:
    """The JSON of a finished copy, as stored."""
    async with unit_of_work() as session:
        content = await session.scalar(select(DataExport.content).where(DataExport.id == export_id))
    assert content is not None
    document: dict[str, Any] = json.loads(gzip.decompress(content))
    return document
