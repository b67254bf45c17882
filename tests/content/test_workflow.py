"""Content workflow, revisions, the compliance check and exactly-once scheduled publishing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from content import compliance, errors, service
from content.models import ContentItem, ContentRevision, ContentTransition
from core import clock
from core.db import unit_of_work
from core.errors import NotAuthenticated, PermissionDenied, ValidationFailed
from core.identity import ANONYMOUS, Role
from core.outbox import OutboxMessage
from tests.content.support import MARKETER, REVIEWER, article, create, publish
from tests.factories import as_patient, new_member, staff


async def _item(item_id):
    async with unit_of_work() as session:
        return await session.get(ContentItem, item_id)


async def _published_events(item_id) -> int:
    async with unit_of_work() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.topic == "content.published", OutboxMessage.payload["item_id"].astext == str(item_id)
                )
            )
            or 0
        )


async def test_workflow_happy_path_records_every_transition_with_actor_and_time():
    item_id = await create()
    async with unit_of_work() as session:
        findings = await service.submit(session, MARKETER, item_id)
    assert findings == []
    async with unit_of_work() as session:
        await service.approve(session, REVIEWER, item_id, comment="内容准确")
    async with unit_of_work() as session:
        await service.publish(session, MARKETER, item_id)
    item = await _item(item_id)
    assert item.status == "published" and item.live_revision_id == item.working_revision_id
    assert item.title == "糖尿病患者如何控制血糖" and item.published_at is not None
    async with unit_of_work() as session:
        await service.archive(session, MARKETER, item_id)
        steps = (await service.transitions_by_item(session, [item_id]))[item_id]
    assert [(s.from_status, s.to_status) for s in steps] == [
        (None, "draft"),
        ("draft", "in_review"),
        ("in_review", "approved"),
        ("approved", "published"),
        ("published", "archived"),
    ]
    assert [s.actor_id for s in steps] == [MARKETER.id, MARKETER.id, REVIEWER.id, MARKETER.id, MARKETER.id]
    assert all(s.occurred_at is not None for s in steps)
    assert steps[2].comment == "内容准确"
    assert (await _item(item_id)).live_revision_id is None
    assert await _published_events(item_id) == 1


async def test_refused_transitions():
    patient = await new_member()
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await service.create_item(session, as_patient(patient), article())
        with pytest.raises(NotAuthenticated):
            await service.create_item(session, ANONYMOUS, article())
        with pytest.raises(PermissionDenied):
            await service.create_item(session, REVIEWER, article())  # reviewers review, marketers write
        with pytest.raises(ValidationFailed) as bad:
            await service.create_item(session, MARKETER, article(title="", kind="poem", condition_codes=["nope"]))
    assert {i.field for i in bad.value.issues} == {"title", "kind", "conditionCodes"}

    # an author who is also a reviewer may not approve their own item
    both = staff(Role.MARKETER, Role.REVIEWER)
    item_id = await create(author=both)
    async with unit_of_work() as session:
        with pytest.raises(errors.InvalidTransition):
            await service.approve(session, REVIEWER, item_id)  # not submitted yet
        await service.submit(session, both, item_id)
    async with unit_of_work() as session:
        with pytest.raises(errors.SelfApproval):
            await service.approve(session, both, item_id)
        with pytest.raises(PermissionDenied):
            await service.approve(session, MARKETER, item_id)  # only reviewers approve
        with pytest.raises(errors.InvalidTransition):
            await service.publish(session, both, item_id)  # not approved
        with pytest.raises(errors.InvalidTransition):
            await service.update_item(session, both, item_id, article(title="改"))  # locked in review
        with pytest.raises(ValidationFailed):
            await service.reject(session, REVIEWER, item_id, comment=" ")
    async with unit_of_work() as session:
        await service.reject(session, REVIEWER, item_id, comment="请补充参考文献")
    item = await _item(item_id)
    assert item.status == "rejected"
    # rejected -> edited (back to draft) -> resubmitted -> approved by someone else
    async with unit_of_work() as session:
        await service.update_item(session, both, item_id, article(body="补充了参考文献。"))
    async with unit_of_work() as session:
        await service.submit(session, both, item_id)
    async with unit_of_work() as session:
        await service.approve(session, REVIEWER, item_id)
    assert (await _item(item_id)).status == "approved"


async def test_revision_while_published_keeps_the_live_version_until_the_new_one_is_published():
    item_id = await publish()
    first = await _item(item_id)
    async with unit_of_work() as session:
        rev = await service.update_item(session, MARKETER, item_id, article(title="糖尿病饮食新指南"))
    assert rev.number == 2
    item = await _item(item_id)
    assert item.status == "draft" and item.live_revision_id == first.live_revision_id
    assert item.title == "糖尿病患者如何控制血糖"  # readers still see the published version
    async with unit_of_work() as session:
        await service.submit(session, MARKETER, item_id)
    async with unit_of_work() as session:
        await service.approve(session, REVIEWER, item_id)
    assert (await _item(item_id)).title == "糖尿病患者如何控制血糖"  # approved is not yet live
    async with unit_of_work() as session:
        await service.publish(session, MARKETER, item_id)
    item = await _item(item_id)
    assert item.title == "糖尿病饮食新指南" and item.live_revision_id == rev.id
    assert item.published_at == first.published_at  # first publication time is kept
    async with unit_of_work() as session:
        statuses = [(r.number, r.status) for r in (await service.revisions_by_item(session, [item_id]))[item_id]]
    assert statuses == [(1, "superseded"), (2, "published")]


async def _scan(body: str, kind: str = "article", title: str = "标题") -> list[compliance.Finding]:
    async with unit_of_work() as session:
        return await compliance.check(session, compliance.Subject(kind=kind, title=title, summary="", body=body))


async def test_compliance_forbidden_claims_with_positions_and_allowed_contexts():
    findings = await _scan("本疗法可以根治糖尿病，\n而且无副作用。")
    assert [(f.category, f.severity, f.field, f.start, f.end, f.line, f.column, f.excerpt) for f in findings] == [
        ("forbidden_claim", "block", "body", 5, 7, 1, 6, "根治"),
        ("forbidden_claim", "block", "body", 14, 18, 2, 3, "无副作用"),
    ]
    assert "正文第1行第6列「根治」" in findings[0].message
    # 根治术 is an operation, 不能根治 is the truth; full-width 100％有效 is still caught
    assert await _scan("乳腺癌改良根治术后康复。高血压目前不能根治。") == []
    found = await _scan("疗效100％有效，治愈率高。", title="永不复发的秘密")
    assert {(f.field, f.excerpt) for f in found} == {("title", "永不复发"), ("body", "100％有效"), ("body", "治愈率")}


async def test_compliance_guarantees_prices_purchase_links_and_contacts():
    body = "保证治愈！3天见效。每盒仅需¥199，点击购买 https://item.taobao.com/x 。咨询电话 138 0013 8000"
    findings = await _scan(body)
    got = [(f.category, f.severity, f.excerpt) for f in findings]
    assert ("guarantee", "block", "保证治愈") in got
    assert ("guarantee", "block", "3天见效") in got
    assert ("price", "block", "¥199") in got
    assert ("purchase", "block", "点击购买") in got
    assert ("purchase", "block", "https://item.taobao.com/x") in got
    assert ("contact", "warn", "138 0013 8000") in got
    for f in findings:
        assert body[f.start : f.end] == f.excerpt
    # announcements are not health education: a hotline is fine there
    assert await _scan("报名电话 0571-88886666", kind="announcement") == []


async def test_block_stops_approval_and_warnings_need_acknowledgement():
    blocked = await create(article(body="祖传秘方，药到病除"))
    async with unit_of_work() as session:
        findings = await service.submit(session, MARKETER, blocked)
    assert len(findings) == 2 and all(f.severity == "block" for f in findings)
    async with unit_of_work() as session:
        with pytest.raises(errors.ComplianceBlocked):
            await service.approve(session, REVIEWER, blocked)
        rev = await session.get(ContentRevision, (await session.get(ContentItem, blocked)).working_revision_id)
        assert len(rev.findings) == 2  # the report stays on the revision for the reviewer

    warned = await create(article(body="这是控糖的最佳时机，有问题请拨打 400-123-4567"))
    async with unit_of_work() as session:
        findings = await service.submit(session, MARKETER, warned)
    assert {f.severity for f in findings} == {"warn"} and len(findings) == 2
    async with unit_of_work() as session:
        with pytest.raises(errors.WarningsNotAcknowledged):
            await service.approve(session, REVIEWER, warned, acknowledged=[findings[0].id])
    async with unit_of_work() as session:
        await service.approve(session, REVIEWER, warned, acknowledged=[f.id for f in findings])
    assert (await _item(warned)).status == "approved"


async def test_word_list_is_data_edited_by_admins():
    admin = staff(Role.ADMIN)
    assert await _scan("吃了马上好") == []
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await compliance.add_term(session, MARKETER, compliance.TermInput(pattern="马上好"))
        term = await compliance.add_term(session, admin, compliance.TermInput(pattern="马上好", note="夸大疗效"))
    assert [f.excerpt for f in await _scan("吃了马上好")] == ["马上好"]
    async with unit_of_work() as session:
        await compliance.deactivate_term(session, admin, term.id)
    assert await _scan("吃了马上好") == []


async def test_patient_story_needs_consent_and_withdrawal_takes_it_down():
    patient = await new_member()
    story = article(kind="story", title="我的控糖十年", body="十年来我坚持运动。", story_patient_id=patient)
    item_id = await create(story)
    async with unit_of_work() as session:
        findings = await service.submit(session, MARKETER, item_id)
    assert [f.category for f in findings] == ["story_consent"]
    async with unit_of_work() as session:
        with pytest.raises(errors.ComplianceBlocked):
            await service.approve(session, REVIEWER, item_id)
    other = await new_member()
    async with unit_of_work() as session:
        with pytest.raises(errors.NotStorySubject):
            await service.grant_story_consent(session, as_patient(other), item_id)
        await service.grant_story_consent(session, as_patient(patient), item_id)
    async with unit_of_work() as session:
        await service.approve(session, REVIEWER, item_id)
    async with unit_of_work() as session:
        await service.publish(session, MARKETER, item_id)
    assert (await _item(item_id)).live_revision_id is not None
    async with unit_of_work() as session:
        await service.withdraw_story_consent(session, as_patient(patient), item_id)
    item = await _item(item_id)
    assert item.status == "archived" and item.live_revision_id is None and item.archive_reason == "consent_withdrawn"
    async with unit_of_work() as session:
        last = (await service.transitions_by_item(session, [item_id]))[item_id][-1]
    assert last.actor_id == patient and last.to_status == "archived"


async def test_two_workers_racing_publish_a_scheduled_item_once():
    items = [await publish(article(title=f"定时文章{i}"), at=clock.now() + timedelta(hours=1)) for i in range(5)]
    assert [(await _item(i)).status for i in items] == ["scheduled"] * 5
    from content import jobs

    assert await jobs.publish_due() == 0  # not due yet
    clock.clock.advance(timedelta(hours=1, seconds=1))
    counts = await asyncio.gather(*(jobs.publish_due(batch_size=2) for _ in range(4)))
    assert sum(counts) == 5
    for i in items:
        assert (await _item(i)).status == "published"
        assert await _published_events(i) == 1
    async with unit_of_work() as session:
        published_steps = await session.scalar(
            select(func.count()).select_from(ContentTransition).where(ContentTransition.to_status == "published")
        )
    assert published_steps == 5
    assert await jobs.publish_due() == 0


async def test_overdue_item_is_published_when_a_worker_starts():
    from content import jobs
    from workers.settings import CRON_JOBS, build_worker

    for cron_job in CRON_JOBS:  # a fresh process: arq keeps cron state on these shared objects
        if cron_job.name == jobs.PUBLISH_DUE.name:
            cron_job.next_run = None

    item_id = await publish(at=clock.now() + timedelta(minutes=5))
    async with unit_of_work() as session:  # it fell due half an hour ago, while no worker ran
        await session.execute(
            update(ContentItem).where(ContentItem.id == item_id).values(publish_at=clock.now() - timedelta(minutes=30))
        )
    worker = build_worker(burst=True, poll_delay=0.05, handle_signals=False)
    try:
        await worker.main()
    finally:
        await worker.close()
    item = await _item(item_id)
    assert item.status == "published" and item.live_revision_id is not None
    assert await _published_events(item_id) == 1


async def test_demo_seed_publishes_clean_chinese_articles_across_conditions():
    from content import demo

    async with unit_of_work() as session:
        items = await demo.seed(session, author_id=MARKETER.id, reviewer_id=REVIEWER.id)
    assert len(items) >= 20
    async with unit_of_work() as session:
        live = list(await session.scalars(select(ContentItem).where(ContentItem.live_revision_id.is_not(None))))
    assert len(live) == len(items)
    assert len({c for i in live for c in i.condition_codes}) >= 10
    async with unit_of_work() as session:
        statuses = set(await session.scalars(select(ContentItem.status)))
    assert {"draft", "in_review", "rejected", "approved", "scheduled", "published", "archived"} <= statuses
