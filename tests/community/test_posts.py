"""Groups, visibility, posts, comments, reactions, answers and anonymity."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from api.relay import to_global_id
from community import errors, groups, posts
from community.models import AuditEntry, ContentStatus, Membership, MemberState
from core import clock
from core.db import unit_of_work
from core.errors import PermissionDenied
from core.identity import ANONYMOUS, Role
from tests.factories import (
    MODERATOR,
    as_patient,
    make_group,
    make_staff,
    member_of,
    new_member,
    staff,
    verified_credential,
)
from tests.support import count_statements, data, gql, patient_session, staff_session


async def _post(
    patient, group_id, *, title="控糖经验分享", body="每天**走路**一小时", kind="discussion", anonymous=False
):
    async with unit_of_work() as session:
        created = await posts.create_post(
            session, as_patient(patient), group_id=group_id, kind=kind, title=title, body=body, anonymous=anonymous
        )
    return created.item


async def _feed(actor, group_id, first=20):
    async with unit_of_work() as session:
        return await posts.group_feed(session, actor, group_id, first=first, after=None)


async def test_visibility_matrix():
    public = await make_group("pub-1")
    members_only = await make_group("mem-1", visibility="members")
    secret = await make_group("sec-1", visibility="secret", join_policy="invite")
    alice = await member_of(public)
    await member_of(members_only, alice)
    outsider = await new_member()
    await _post(alice, public)
    await _post(alice, members_only)

    assert len((await _feed(ANONYMOUS, public)).page.items) == 1  # public: anyone reads
    with pytest.raises(errors.NotMember):
        await _feed(as_patient(outsider), members_only)  # outsiders see the card, not the posts
    async with unit_of_work() as session:
        with pytest.raises(errors.NotMember):
            await groups.members_page(session, as_patient(outsider), members_only, first=10, after=None)
        listed = await groups.groups_page(session, as_patient(outsider), first=50, after=None)
    assert {g.id for g in listed.items} == {public, members_only}  # the secret group is unlisted

    async with unit_of_work() as session:
        await groups.invite(session, MODERATOR, secret, alice)
        await groups.join(session, as_patient(alice), secret)
    async with unit_of_work() as session:
        for actor in (as_patient(outsider), ANONYMOUS):
            with pytest.raises(errors.GroupNotFound):
                await groups.group_by_slug(session, actor, "sec-1")
            with pytest.raises(errors.GroupNotFound):
                await groups.members_page(session, actor, secret, first=10, after=None)
        assert (await groups.group_by_slug(session, as_patient(alice), "sec-1")).id == secret
        mine = await groups.groups_page(session, as_patient(alice), first=50, after=None)
    assert secret in {g.id for g in mine.items}
    async with unit_of_work() as session:
        with pytest.raises(errors.GroupNotFound):  # an unlisted group does not exist for outsiders
            await groups.join(session, as_patient(outsider), secret)


async def test_join_policies():
    approval = await make_group("apr-1", join_policy="approval")
    verified = await make_group("ver-1", visibility="members", join_policy="verified")
    patient = await new_member()
    async with unit_of_work() as session:
        pending = await groups.join(session, as_patient(patient), approval, note="我是糖友")
    assert pending.state == MemberState.PENDING
    async with unit_of_work() as session:
        with pytest.raises(errors.AlreadyMember):
            await groups.join(session, as_patient(patient), approval)
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await groups.decide_request(session, as_patient(await new_member()), pending.id, approve=True)
        done = await groups.decide_request(session, MODERATOR, pending.id, approve=True)
    assert done.state == MemberState.ACTIVE
    async with unit_of_work() as session:
        request = await groups.join(session, as_patient(patient), verified)
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await groups.decide_request(session, MODERATOR, request.id, approve=True)  # needs care staff
        confirmed = await groups.decide_request(session, staff(Role.DOCTOR), request.id, approve=True)
    assert confirmed.verified_at is not None


async def test_muted_and_banned_members_may_not_post():
    group = await make_group("mute-1")
    patient = await member_of(group)
    async with unit_of_work() as session:
        await session.execute(
            update(Membership)
            .where(Membership.account_id == patient)
            .values(muted_until=clock.now() + timedelta(days=3))
        )
    with pytest.raises(errors.MemberMuted) as muted:
        await _post(patient, group)
    assert "禁言" in muted.value.message
    clock.clock.advance(timedelta(days=3, minutes=1))
    await _post(patient, group)  # the mute ran out
    async with unit_of_work() as session:
        await session.execute(
            update(Membership)
            .where(Membership.account_id == patient)
            .values(state=MemberState.BANNED, banned_until=None)
        )
    with pytest.raises(errors.MemberBanned):
        await _post(patient, group)


async def test_answers_verified_only_by_group_experts_and_accepted_by_asker():
    group = await make_group("qa-1")
    asker, other = await member_of(group), await member_of(group)
    question = await _post(asker, group, kind="question", title="空腹血糖偏高怎么办？")
    async with unit_of_work() as session:
        answer = (
            await posts.create_comment(session, as_patient(other), post_id=question.id, body="建议先复查糖化血红蛋白")
        ).item
    # Real staff accounts: a group role can only go to an account that exists.
    doctor = staff(Role.DOCTOR, staff_id=await make_staff("qa-doctor@example.cn", [Role.DOCTOR]))
    await verified_credential(doctor.id)  # an expert is a clinician with a verified practising credential
    async with unit_of_work() as session:
        await groups.set_role(session, MODERATOR, group, account_kind="staff", account_id=doctor.id, role="expert")
    moderator = staff(Role.MODERATOR, staff_id=await make_staff("qa-mod@example.cn", [Role.MODERATOR]))
    async with unit_of_work() as session:
        with pytest.raises(errors.CredentialRequired):
            await groups.set_role(
                session, MODERATOR, group, account_kind="staff", account_id=moderator.id, role="expert"
            )
    for not_allowed in (as_patient(other), staff(Role.DOCTOR), moderator):
        async with unit_of_work() as session:
            with pytest.raises(PermissionDenied):
                await posts.verify_answer(session, not_allowed, post_id=question.id, comment_id=answer.id)
    async with unit_of_work() as session:
        verified = await posts.verify_answer(session, doctor, post_id=question.id, comment_id=answer.id)
    assert verified.verified_answer_id == answer.id and verified.accepted_answer_id is None
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await posts.accept_answer(session, as_patient(other), post_id=question.id, comment_id=answer.id)
        accepted = await posts.accept_answer(session, as_patient(asker), post_id=question.id, comment_id=answer.id)
    assert accepted.accepted_answer_id == answer.id


async def test_comments_one_reply_level_lock_and_reactions():
    group = await make_group("cm-1")
    alice, bob = await member_of(group), await member_of(group)
    post = await _post(alice, group)
    async with unit_of_work() as session:
        top = (await posts.create_comment(session, as_patient(bob), post_id=post.id, body="赞同")).item
        reply = (
            await posts.create_comment(session, as_patient(alice), post_id=post.id, body="谢谢", parent_id=top.id)
        ).item
        nested = (
            await posts.create_comment(session, as_patient(bob), post_id=post.id, body="不客气", parent_id=reply.id)
        ).item
    assert reply.parent_id == top.id and nested.parent_id == top.id
    for _ in range(2):
        async with unit_of_work() as session:
            await posts.react(session, as_patient(bob), target_kind="post", target_id=post.id, kind="like")
    async with unit_of_work() as session:
        await posts.react(session, as_patient(bob), target_kind="post", target_id=post.id, kind="hug")
        await posts.react(session, as_patient(alice), target_kind="comment", target_id=top.id, kind="helpful")
        counts = await posts.reaction_counts(session, [("post", post.id), ("comment", top.id)])
    assert counts[("post", post.id)] == {"like": 1, "hug": 1} and counts[("comment", top.id)] == {"helpful": 1}
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await posts.set_flags(session, as_patient(alice), post.id, locked=True)
        await posts.set_flags(session, MODERATOR, post.id, locked=True, pinned=True, reason="讨论结束")
    async with unit_of_work() as session:
        with pytest.raises(errors.PostLocked):
            await posts.create_comment(session, as_patient(bob), post_id=post.id, body="还想说")
        audit = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "post_flags"))).all()
    assert audit[0].detail == {"pinned": True, "locked": True}
    later = await _post(bob, group, title="后来的帖子")
    feed = await _feed(ANONYMOUS, group)
    assert [p.id for p in feed.pinned] == [post.id] and [p.id for p in feed.page.items] == [later.id]


async def test_edit_keeps_history_and_markdown_is_sanitised():
    group = await make_group("ed-1")
    alice = await member_of(group)
    post = await _post(alice, group, body="<script>alert(1)</script>**好转**[链接](javascript:alert(1))")
    assert "<script>" not in post.body_html and "<strong>好转</strong>" in post.body_html
    assert 'href="javascript' not in post.body_html
    async with unit_of_work() as session:
        with pytest.raises(errors.PostNotFound):
            await posts.edit_post(session, as_patient(await new_member()), post.id, title="改标题", body="改")
        edited = (
            await posts.edit_post(session, as_patient(alice), post.id, title="控糖经验（更新）", body="新内容")
        ).item
    assert edited.edited_at is not None
    async with unit_of_work() as session:
        from community.models import PostRevision

        revisions = (await session.scalars(select(PostRevision).where(PostRevision.post_id == post.id))).all()
    assert [r.title for r in revisions] == ["控糖经验分享"]


async def test_anonymous_alias_is_stable_and_hidden_from_moderators(client):
    group = await make_group("anon-1", allow_anonymous=True, alias_prefix="糖友")
    plain = await make_group("anon-2")
    s = await patient_session(client, "13900007777")
    from api.relay import parse_uuid_id

    patient_id = parse_uuid_id(s.id, "Patient")
    await member_of(group, patient_id)
    await member_of(plain, patient_id)
    with pytest.raises(errors.AnonymousNotAllowed):
        await _post(patient_id, plain, anonymous=True)
    first = await _post(patient_id, group, anonymous=True, title="术后焦虑")
    second = await _post(patient_id, group, anonymous=True, title="又一次复查")
    moderator = await staff_session(client, "mod@example.cn", ["moderator"])
    query = """query($id: ID!) { node(id: $id) { ... on Post { title author { displayName anonymous id } } } }"""
    seen = [
        data(await gql(client, query, {"id": to_global_id("Post", p.id)}, token=moderator.access))["node"]
        for p in (first, second)
    ]
    assert seen[0]["author"]["displayName"] == seen[1]["author"]["displayName"]
    assert seen[0]["author"]["displayName"].startswith("糖友#") and seen[0]["author"]["id"] is None
    reveal = """mutation($t: ID!, $r: String!) { authorReveal(input: {targetId: $t, reason: $r}) {
      accountId errors { code } } }"""
    target = to_global_id("Post", first.id)
    denied = data(await gql(client, reveal, {"t": target, "r": "处理投诉需要"}, token=moderator.access))
    assert denied["authorReveal"]["errors"][0]["code"] == "PERMISSION_DENIED"
    admin = await staff_session(client, "adm@example.cn", ["admin"])
    shown = data(await gql(client, reveal, {"t": target, "r": "处理投诉需要"}, token=admin.access))["authorReveal"]
    assert shown == {"accountId": s.id, "errors": []}
    async with unit_of_work() as session:
        logged = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "reveal_author"))).all()
    assert len(logged) == 1 and logged[0].reason == "处理投诉需要"


async def test_group_feed_statement_count_does_not_grow_with_page_size(client):
    group = await make_group("feed-1", allow_anonymous=True)
    authors = [await member_of(group) for _ in range(4)]
    for i in range(30):
        await _post(authors[i % 4], group, title=f"帖子{i}", anonymous=i % 3 == 0)
    reader = await patient_session(client, "13900008888")
    query = """query($n: Int!) { group(slug: "feed-1") { name memberCount viewerMembership { role }
      feed(first: $n) { pinned { id } posts { edges { node { id title bodyHtml commentCount status
        author { displayName anonymous isExpert } reactionCounts { like hug } viewerReactions } }
        pageInfo { hasNextPage endCursor } } } } }"""
    counts = []
    for n in (3, 25):
        with count_statements() as counter:
            d = data(await gql(client, query, {"n": n}, token=reader.access))
        assert len(d["group"]["feed"]["posts"]["edges"]) == n
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


async def test_held_and_author_only_posts_are_not_shown_to_others():
    group = await make_group("vis-2")
    alice, bob = await member_of(group), await member_of(group)
    post = await _post(alice, group)
    for status in (ContentStatus.HELD, ContentStatus.AUTHOR_ONLY, ContentStatus.HIDDEN):
        async with unit_of_work() as session:
            await session.execute(update(posts.Post).where(posts.Post.id == post.id).values(status=status))
        assert [p.id for p in (await _feed(as_patient(alice), group)).page.items] == [post.id]
        assert (await _feed(as_patient(bob), group)).page.items == []
        async with unit_of_work() as session:
            with pytest.raises(errors.PostNotFound):
                await posts.get_post(session, as_patient(bob), post.id)
