"""Erasure (PIPL art. 47) in the domain: scheduled after a grace period the patient may cancel in, done
by a job within the time limit; personal data removed or pseudonymised, posts anonymised or deleted as
chosen, the ledger balanced on the erased account with nothing left to the member, consent evidence
kept, marketing stopped; a job killed midway and run again finishes every step exactly once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import undefer

from care.models import Complaint, Conversation, ConversationMessage, Survey
from community import comments as community_comments
from community.models import (
    Bookmark,
    CheckIn,
    Comment,
    CommentRevision,
    EventRsvp,
    Group,
    Membership,
    Post,
    Reaction,
    RsvpStatus,
    ShareLink,
)
from core import clock
from core.db import unit_of_work
from core.errors import PermissionDenied
from core.identity import Role
from loyalty import errors as loyalty_errors
from loyalty import jobs, ledger, rewards
from loyalty.models import Account, AccountKind, Entry, EntryKind, Line, Lot, LotStatus, Redemption, Reward
from media.models import Image
from messaging import outreach
from messaging.models import InboxMessage
from patients import guardians
from patients.guardian_models import Guardianship
from patients.models import AuthSession, Consent, ConsentEvent, Patient, PatientCondition
from privacy import erase_steps, erasure, errors, export
from privacy.models import DataExport, ErasureRequest, ErasureStatus, ExportStatus, PostsChoice
from social.models import Block, Follow, Profile, TagFollow
from tests.care.support import start
from tests.factories import as_patient, check_ledger_invariants, new_member, staff
from tests.loyalty.support import balances, give_points, make_reward, record_visit, site_id
from tests.privacy.support import rich_patient

pytestmark = pytest.mark.usefixtures("ledger_invariants")

ADMIN = staff(Role.ADMIN)
ERASED_ACCOUNT = ledger.system_account(AccountKind.ERASED)


@pytest.fixture(autouse=True)
def _frozen() -> None:
    clock.clock.freeze(start())


async def _request(pid: uuid.UUID, posts: PostsChoice = PostsChoice.ANONYMISE) -> ErasureRequest:
    async with unit_of_work() as session:
        return await erasure.request_erasure(session, as_patient(pid), posts=posts)


async def _row(request_id: uuid.UUID) -> ErasureRequest:
    async with unit_of_work() as session:
        row = await session.get(ErasureRequest, request_id)
    assert row is not None
    return row


async def _erased(pid: uuid.UUID, posts: PostsChoice = PostsChoice.ANONYMISE) -> ErasureRequest:
    """Requested, the grace period over, the job run: the finished request."""
    request = await _request(pid, posts)
    clock.clock.advance(timedelta(days=7))
    assert await erasure.run_erasure(request.id) == "done"
    return await _row(request.id)


async def _erased_balance() -> int:
    async with unit_of_work() as session:
        return int(await session.scalar(select(func.sum(Line.amount)).where(Line.account_id == ERASED_ACCOUNT)) or 0)


async def _count(model: Any, *where: Any) -> int:
    async with unit_of_work() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_a_request_waits_out_its_grace_period_and_may_be_cancelled_until_then() -> None:
    pid = await new_member()
    request = await _request(pid)
    assert request.status == ErasureStatus.SCHEDULED
    assert request.execute_after == clock.now() + timedelta(days=7)
    assert request.due_by == clock.now() + timedelta(days=15)
    with pytest.raises(errors.ErasureAlreadyRequested):
        await _request(pid)
    async with unit_of_work() as session:  # the patient is told when it runs and how to take it back
        notice = await session.scalar(select(InboxMessage).where(InboxMessage.patient_id == pid))
    assert notice is not None and "撤回" in notice.body

    # Not before the grace period ends: neither the cron nor a stray job touches it.
    assert await erasure.enqueue_due() == 0
    assert await erasure.run_erasure(request.id) == "skipped"
    assert (await _row(request.id)).status == ErasureStatus.SCHEDULED

    async with unit_of_work() as session:
        with pytest.raises(errors.ErasureNotFound):  # another patient's request is not found
            await erasure.cancel_erasure(session, as_patient(await new_member()), request.id)
        cancelled = await erasure.cancel_erasure(session, as_patient(pid), request.id)
    assert cancelled.status == ErasureStatus.CANCELLED and cancelled.cancelled_at == clock.now()
    clock.clock.advance(timedelta(days=8))
    assert await erasure.enqueue_due() == 0
    assert await erasure.run_erasure(request.id) == "skipped"
    async with unit_of_work() as session:
        assert (await session.get(Patient, pid)).erased_at is None  # type: ignore[union-attr]
        with pytest.raises(errors.ErasureNotCancellable):
            await erasure.cancel_erasure(session, as_patient(pid), request.id)
    assert (await _request(pid)).id != request.id  # a new request after a cancelled one


async def test_the_cron_enqueues_it_when_the_grace_period_ends() -> None:
    pid = await new_member()
    request = await _request(pid)
    clock.clock.advance(timedelta(days=7))
    assert await erasure.enqueue_due() == 1
    assert await erasure.enqueue_due() == 0  # its job is queued already (the job id is the request's)
    assert await erasure.run_erasure(request.id) == "done"
    async with unit_of_work() as session:
        with pytest.raises(errors.ErasureNotCancellable):
            await erasure.cancel_erasure(session, as_patient(pid), request.id)


async def test_erasure_removes_the_person_and_keeps_what_the_law_and_the_ledger_need(media_dir: Path) -> None:
    rich = await rich_patient()
    pid = rich.pid
    async with unit_of_work() as session:
        avatar = await session.scalar(select(Image).where(Image.owner_id == pid))
    assert avatar is not None and (media_dir / avatar.storage_key).is_file()
    before = await balances(pid)
    async with unit_of_work() as session:
        old_phone = (await session.get(Patient, pid)).phone  # type: ignore[union-attr]
        consent_events = int(
            await session.scalar(select(func.count()).select_from(ConsentEvent).where(ConsentEvent.patient_id == pid))
            or 0
        )
        granted = int(
            await session.scalar(
                select(func.count()).select_from(Consent).where(Consent.patient_id == pid, Consent.granted.is_(True))
            )
            or 0
        )
        group_size = await session.scalar(select(Group.member_count).where(Group.id == rich.group))
        stock = await session.scalar(select(Reward.stock).where(Reward.id == rich.reward))
    done = await _erased(pid)

    assert done.status == ErasureStatus.DONE and done.finished_at == clock.now()
    assert not erasure.overdue(done, clock.now())
    assert set(done.steps) == {s.name for s in erase_steps.STEPS}  # every step on record
    async with unit_of_work() as session:
        patient = await session.get(Patient, pid)
        assert patient is not None and patient.erased_at is not None
        assert patient.phone == erase_steps.tombstone_phone(pid) != old_phone
        assert (patient.nickname, patient.real_name, patient.email, patient.birth_date, patient.birth_year) == (
            "已注销用户",
            None,
            None,
            None,
            None,
        )
        assert (
            await session.scalar(
                select(func.count())
                .select_from(AuthSession)
                .where(AuthSession.subject_id == pid, AuthSession.revoked_at.is_(None))
            )
            == 0
        )
        # Consent evidence stays; every consent given is withdrawn, on record like any withdrawal.
        answers = (await session.scalars(select(Consent).where(Consent.patient_id == pid))).all()
        assert answers and not any(c.granted for c in answers)
        events = (
            await session.scalars(
                select(ConsentEvent).where(ConsentEvent.patient_id == pid).order_by(ConsentEvent.occurred_at)
            )
        ).all()
        assert len(events) == consent_events + granted
        assert all(not e.granted and e.source_note and "注销账号" in e.source_note for e in events[consent_events:])
        # Health data gone; complaint and survey rows kept without their texts.
        assert (
            await session.scalar(
                select(func.count()).select_from(PatientCondition).where(PatientCondition.patient_id == pid)
            )
            == 0
        )
        assert await session.scalar(select(func.count()).select_from(CheckIn).where(CheckIn.patient_id == pid)) == 0
        complaint = await session.get(Complaint, rich.complaint)
        survey = await session.get(Survey, rich.survey)
        assert complaint is not None and complaint.body == "" and complaint.status == "open"
        assert survey is not None and survey.comment is None and survey.score == 9
        thread = await session.scalar(select(Conversation).where(Conversation.patient_id == pid))
        assert thread is not None and (thread.status, thread.subject, thread.message_count) == ("closed", "", 1)
        texts = await session.scalars(
            select(ConversationMessage.body).where(ConversationMessage.conversation_id == thread.id)
        )
        assert list(texts) == [""]
        assert (
            await session.scalar(select(func.count()).select_from(InboxMessage).where(InboxMessage.patient_id == pid))
            == 0
        )
        # Out of the group (the count follows); registrations for events to come withdrawn.
        membership = await session.scalar(select(Membership.state).where(Membership.account_id == pid))
        assert membership == "left"
        assert await session.scalar(select(Group.member_count).where(Group.id == rich.group)) == group_size - 1
        rsvp = await session.scalar(select(EventRsvp.status).where(EventRsvp.patient_id == pid))
        assert rsvp == RsvpStatus.DECLINED
        # Anonymised posts stay as they were; the author now reads as 已注销用户. Reactions go.
        kept = await session.get(Post, rich.post)
        assert kept is not None and kept.status == "published" and kept.body_md == "每天快走一小时，空腹血糖稳定"
        assert await session.scalar(select(func.count()).select_from(Reaction).where(Reaction.account_id == pid)) == 0
        assert await session.scalar(select(func.count()).select_from(Bookmark).where(Bookmark.account_id == pid)) == 0
        assert await session.scalar(select(func.count()).select_from(Image).where(Image.owner_id == pid)) == 0
        assert await session.scalar(select(func.count()).select_from(Profile).where(Profile.account_id == pid)) == 0
        follows = select(func.count()).select_from(Follow)
        assert await session.scalar(follows.where((Follow.follower_id == pid) | (Follow.followee_id == pid))) == 0
        tags = select(func.count()).select_from(TagFollow).where(TagFollow.follower_id == pid)
        assert await session.scalar(tags) == 0
        assert await session.scalar(select(func.count()).select_from(Block).where(Block.blocker_id == pid)) == 0
        assert not (media_dir / avatar.storage_key).exists() and not (media_dir / avatar.thumbnail_key).exists()
        assert await session.scalar(select(func.count()).select_from(ShareLink).where(ShareLink.sharer_id == pid)) == 0
        # The voucher cancelled (its item back in stock), the points gone to the erased account.
        voucher = await session.scalar(select(Redemption).where(Redemption.patient_id == pid))
        assert voucher is not None and voucher.status == "cancelled"
        assert await session.scalar(select(Reward.stock).where(Reward.id == rich.reward)) == (stock or 0) + 1
        lots = (await session.scalars(select(Lot).where(Lot.patient_id == pid))).all()
        assert {(lot.status, lot.remaining) for lot in lots if lot.status != LotStatus.EXPIRED} <= {
            (LotStatus.VOIDED, 0),
            (LotStatus.AVAILABLE, 0),
        }
        erase_entry = await session.scalar(select(Entry).where(Entry.kind == EntryKind.ERASE, Entry.patient_id == pid))
    assert await balances(pid) == {"pending": 0, "available": 0, "clawback": 0}
    voucher_back = 100
    moved = before["pending"] + before["available"] + voucher_back
    assert erase_entry is not None and erase_entry.amount == -moved
    assert await _erased_balance() == moved
    assert done.steps["points"]["counts"]["available"] == before["available"] + voucher_back
    await check_ledger_invariants()

    # The one outreach policy keeps every message class from the erased account.
    async with unit_of_work() as session:
        found = await outreach.recipients(session, [pid], clock.now())
    for message_class in outreach.MessageClass:
        assert found[pid].suppressed[message_class] == "erased"
        assert outreach.admit(found[pid], message_class).reason == outreach.SkipReason.SUPPRESSED


async def test_posts_and_comments_are_deleted_when_the_patient_chose_so() -> None:
    rich = await rich_patient()
    async with unit_of_work() as session:  # an edit keeps the old text for moderators
        await community_comments.edit_comment(session, as_patient(rich.pid), rich.comment, body="补充：饭后散步 #控糖#")
    done = await _erased(rich.pid, PostsChoice.DELETE)
    async with unit_of_work() as session:
        mine = (await session.scalars(select(Post).where(Post.author_id == rich.pid))).all()
        comments = (await session.scalars(select(Comment).where(Comment.author_id == rich.pid))).all()
        neighbour = await session.get(Post, rich.neighbour_post)
    assert {(p.status, p.title, p.body_md, p.body_html) for p in mine} == {("removed", "", "", "")}
    async with unit_of_work() as session:  # nor can a search find them by their old words
        vectors = await session.scalars(select(Post.search_vector).where(Post.author_id == rich.pid))
        assert set(vectors) == {None}
    assert {(c.status, c.body_md) for c in comments} == {("removed", "")}
    assert {tuple(p.tags) for p in mine} == {()}
    assert await _count(CommentRevision, CommentRevision.comment_id == rich.comment) == 0
    assert done.steps["community"]["counts"]["comment_revisions_deleted"] == 1
    assert neighbour is not None and neighbour.status == "published"  # other people's posts stay
    assert done.steps["community"]["counts"]["posts_deleted"] == 2


async def test_points_owed_are_written_off_on_the_erased_account_too() -> None:
    pid = await new_member()
    await record_visit(pid, "ER-OWE-1", consultation_fen=50_000)
    clock.clock.advance(timedelta(days=8))
    await jobs.settle_due()
    reward = await make_reward(cost=80, stock=None)
    async with unit_of_work() as session:
        redemption = await rewards.redeem(session, as_patient(pid), reward, "er-owe-spend")
    async with unit_of_work() as session:
        await rewards.fulfil(session, staff(Role.CLINIC_STAFF), redemption.voucher_code, await site_id())
    await record_visit(pid, "ER-OWE-1", status="refunded")
    assert (await balances(pid))["clawback"] == -80
    await give_points(pid, 30)  # repays part of the debt first
    owed = -(await balances(pid))["clawback"]
    done = await _erased(pid)
    assert await balances(pid) == {"pending": 0, "available": 0, "clawback": 0}
    assert done.steps["points"]["counts"]["owed"] == owed == 50
    assert await _erased_balance() == -owed  # the debt is written off, balanced
    await check_ledger_invariants()


async def test_a_job_killed_midway_and_run_again_finishes_every_step_exactly_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rich = await rich_patient()
    request = await _request(rich.pid)
    clock.clock.advance(timedelta(days=7))
    health = next(s for s in erase_steps.STEPS if s.name == "health")
    calls = 0

    async def killed_once(session: Any, row: ErasureRequest) -> dict[str, int]:
        nonlocal calls
        calls += 1
        counts = await health.run(session, row)  # the step's writes happen, then the worker dies
        if calls == 1:
            raise RuntimeError("worker killed")
        return counts

    steps = tuple(
        erase_steps.Step(s.name, s.label, killed_once) if s.name == "health" else s for s in erase_steps.STEPS
    )
    monkeypatch.setattr(erase_steps, "STEPS", steps)
    with pytest.raises(RuntimeError):
        await erasure.run_erasure(request.id)
    halfway = await _row(request.id)
    assert halfway.status == ErasureStatus.RUNNING
    assert set(halfway.steps) == {"account", "consents", "registrations", "memberships", "community"}
    assert await _count(CheckIn, CheckIn.patient_id == rich.pid) == 1  # the killed step's writes rolled back

    clock.clock.advance(timedelta(minutes=10))
    await check_ledger_invariants()
    assert await erasure.enqueue_due() == 1  # a running request is picked up again by the cron
    assert await erasure.run_erasure(request.id) == "done"
    assert await erasure.run_erasure(request.id) == "skipped"
    done = await _row(request.id)
    assert done.status == ErasureStatus.DONE and done.attempts == 2
    assert set(done.steps) == {s.name for s in erase_steps.STEPS}
    for name in halfway.steps:  # the steps done before the kill were not run again
        assert done.steps[name] == halfway.steps[name]
    assert await _count(Entry, Entry.kind == EntryKind.ERASE) == 1
    assert (
        await _count(ConsentEvent, ConsentEvent.patient_id == rich.pid, ConsentEvent.source_note.like("注销账号%")) == 2
    )
    await check_ledger_invariants()


async def test_two_runs_at_once_erase_once() -> None:
    rich = await rich_patient()
    request = await _request(rich.pid)
    clock.clock.advance(timedelta(days=7))
    results = await asyncio.gather(erasure.run_erasure(request.id), erasure.run_erasure(request.id))
    assert sorted(results) == ["done", "skipped"]
    assert await _count(Entry, Entry.kind == EntryKind.ERASE) == 1
    assert set((await _row(request.id)).steps) == {s.name for s in erase_steps.STEPS}
    await check_ledger_invariants()


async def test_admins_list_requests_with_the_overdue_flag_and_run_one_at_once() -> None:
    first, second = await new_member(), await new_member()
    late = await _request(first)
    clock.clock.advance(timedelta(days=16))  # nobody ran it: past the time limit
    early = await _request(second, PostsChoice.DELETE)
    async with unit_of_work() as session:
        page = await erasure.requests_page(session, ADMIN, first=10, after=None)
        assert [r.id for r in page.items] == [early.id, late.id]
        assert [erasure.overdue(r, clock.now()) for r in page.items] == [False, True]
        overdue = await erasure.requests_page(session, ADMIN, overdue_only=True, first=10, after=None)
        assert [r.id for r in overdue.items] == [late.id]
        within = await erasure.requests_page(session, ADMIN, overdue_only=False, first=10, after=None)
        assert [r.id for r in within.items] == [early.id]
        scheduled = await erasure.requests_page(session, ADMIN, status=ErasureStatus.SCHEDULED, first=10, after=None)
        assert len(scheduled.items) == 2
        for who in (staff(Role.DOCTOR), staff(Role.MARKETER), as_patient(first)):
            with pytest.raises(PermissionDenied):
                await erasure.requests_page(session, who, first=10, after=None)
            with pytest.raises(PermissionDenied):
                await erasure.run_now(session, who, early.id)
        ran = await erasure.run_now(session, ADMIN, early.id)
        assert ran.execute_after == clock.now() and ran.run_by == ADMIN.id
    assert await erasure.run_erasure(early.id) == "done"
    assert await erasure.run_erasure(late.id) == "done"
    finished_late = await _row(late.id)
    assert erasure.overdue(finished_late, clock.now())  # done, but after its deadline: still flagged
    async with unit_of_work() as session:
        with pytest.raises(errors.ErasureNotRunnable):
            await erasure.run_now(session, ADMIN, early.id)
        with pytest.raises(errors.ErasureNotFound):
            await erasure.run_now(session, ADMIN, uuid.uuid4())


async def test_balances_of_a_member_without_points_are_left_alone() -> None:
    pid = await new_member()
    done = await _erased(pid)
    assert done.steps["points"]["counts"] == {"vouchers": 0, "pending": 0, "available": 0, "owed": 0, "lots": 0}
    assert await _count(Entry, Entry.patient_id == pid) == 0
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Account).where(Account.patient_id == pid)) == 3


async def test_an_erased_account_earns_nothing_new_and_an_old_refund_still_balances() -> None:
    pid = await new_member()
    await record_visit(pid, "ER-V-1", consultation_fen=30_000)  # pending points
    await _erased(pid)
    with pytest.raises(loyalty_errors.PatientNotFound):
        await record_visit(pid, "ER-V-2", consultation_fen=30_000)
    refunded = await record_visit(pid, "ER-V-1", status="refunded")  # the HIS refunds the old visit later
    assert refunded.visit.status == "refunded"
    assert await balances(pid) == {"pending": 0, "available": 0, "clawback": 0}
    await check_ledger_invariants()


async def test_nobody_edits_the_profile_of_an_erased_account() -> None:
    from core.errors import NotFound
    from patients import service as patient_service

    pid = await new_member()
    await _erased(pid)
    async with unit_of_work() as session:
        with pytest.raises(NotFound):
            await patient_service.update_profile(
                session, staff(Role.DOCTOR), patient_service.ProfileChanges(nickname="张三"), patient_id=pid
            )
    async with unit_of_work() as session:
        patient = await session.get(Patient, pid)
        assert patient is not None and patient.nickname == "已注销用户"


async def test_copies_of_the_data_are_dropped_and_one_in_the_making_is_stopped() -> None:
    pid = await new_member()
    async with unit_of_work() as session:
        made = (await export.request_export(session, as_patient(pid))).id
    await export.run_export(made)
    clock.clock.advance(timedelta(days=1, minutes=1))
    async with unit_of_work() as session:
        pending = (await export.request_export(session, as_patient(pid))).id
    done = await _erased(pid)
    assert done.steps["messages"]["counts"]["exports"] == 1
    assert done.steps["messages"]["counts"]["exports_stopped"] == 1
    assert await export.run_export(pending) == "skipped"  # its job, arriving late, makes nothing
    async with unit_of_work() as session:
        rows = {e.id: e for e in await session.scalars(select(DataExport).options(undefer(DataExport.content)))}
    assert rows[made].content is None and rows[made].status == ExportStatus.DONE
    assert rows[pending].content is None and rows[pending].status == ExportStatus.FAILED
    assert await _count(InboxMessage, InboxMessage.patient_id == pid) == 0


async def _delegation(guardian: uuid.UUID, dependent: uuid.UUID) -> uuid.UUID:
    async with unit_of_work() as session:
        row = await guardians.create_by_staff(
            session,
            staff(Role.CLINIC_STAFF),
            guardian_id=guardian,
            dependent_id=dependent,
            relation="parent",
            scopes=["view", "book"],
            evidence_note="核验户口本",
        )
    return row.id


async def test_delegations_given_or_held_are_revoked_and_a_guardian_cannot_erase_for_someone() -> None:
    pid, parent, child = await new_member(), await new_member(), await new_member()
    held = await _delegation(pid, parent)  # pid looks after their father
    given = await _delegation(child, pid)  # and is looked after by their son
    async with unit_of_work() as session:
        acting = await guardians.act_for(session, as_patient(child), pid)
        with pytest.raises(PermissionDenied):  # erasure is asked for in person
            await erasure.request_erasure(session, acting, posts=PostsChoice.DELETE)
        with pytest.raises(PermissionDenied):
            await export.request_export(session, acting)
    done = await _erased(pid)
    assert done.steps["account"]["counts"]["guardianships"] == 2
    async with unit_of_work() as session:
        rows = {g.id: g for g in await session.scalars(select(Guardianship).where(Guardianship.id.in_([held, given])))}
    assert {(g.status, g.revoked_reason, g.revoked_by) for g in rows.values()} == {("revoked", "账号注销", pid)}


async def test_their_notifications_go_and_others_notifications_stop_naming_them() -> None:
    from social.models import Notification
    from tests.factories import make_group
    from tests.social.notify_support import drain, nickname, notes_of
    from tests.social.support import comment, join, patient, post

    group = await make_group()
    author, commenter = await patient(), await patient()
    for p in (author, commenter):
        await join(group, p)
    await nickname(commenter, "阿明")
    await nickname(author, "小红")
    mine = await post(commenter, group, title="打卡第一天")
    await comment(author, mine.id, "加油")  # the commenter is told: their own notification
    theirs = await post(author, group, title="控糖经验分享")
    await comment(commenter, theirs.id, "我也是这样做的")  # the author is told, by name
    await drain()
    assert await notes_of(commenter) and any("阿明" in n.title for n in await notes_of(author, "reply"))
    assert commenter.id is not None
    done = await _erased(commenter.id)
    assert await notes_of(commenter) == []
    (told,) = await notes_of(author, "reply")
    assert "阿明" not in told.title + told.body and "已注销用户" in told.title
    assert [a["name"] for a in told.actors] == ["已注销用户"]
    assert done.steps["messages"]["counts"]["named_in_notifications"] == 1
    assert await _count(Notification, Notification.recipient_id == commenter.id) == 0
