"""Groups and memberships: creating groups, joining by policy, approval, diagnosis checks, roles."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from community import access, audit, credentials, errors
from community.errors import CommunityCode as Code
from community.models import (
    Group,
    GroupVisibility,
    JoinPolicy,
    MemberRole,
    Membership,
    MemberState,
    NotificationLevel,
)
from core import clock
from core.errors import CoreCode, DomainError, NotFound, PermissionDenied, Validator
from core.identity import Actor, Role
from core.ids import new_id
from core.pagination import Page, keyset_page
from patients.models import Condition, Patient, Staff

GROUP_ADMIN_ROLES = (Role.MODERATOR, Role.MARKETER)
DIAGNOSIS_CHECK_ROLES = (Role.DOCTOR, Role.HEALTH_MANAGER, Role.CLINIC_STAFF)
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,58}[a-z0-9]$")


@dataclass
class GroupInput:
    slug: str
    name: str
    visibility: str
    join_policy: str
    condition_code: str | None = None
    description: str = ""
    rules_text: str = ""
    cover_url: str | None = None
    allow_anonymous: bool = False
    alias_prefix: str = "病友"
    join_question: str | None = None


JOIN_QUESTION_MAX = 200
JOIN_ANSWER_MAX = 500


async def _validate(session: AsyncSession, data: GroupInput) -> None:
    v = Validator()
    v.check(bool(_SLUG.match(data.slug)), "slug", Code.SLUG_INVALID, "标识需为3到60位小写字母、数字或连字符")
    v.check(2 <= len(data.name.strip()) <= 60, "name", CoreCode.NAME_LENGTH, "名称需为2到60个字符")
    v.check(
        data.visibility in {g.value for g in GroupVisibility},
        "visibility",
        Code.VISIBILITY_INVALID,
        "可见性无效",
    )
    v.check(
        data.join_policy in {p.value for p in JoinPolicy},
        "joinPolicy",
        Code.JOIN_POLICY_INVALID,
        "加入方式无效",
    )
    v.check(
        not (data.visibility == GroupVisibility.SECRET and data.join_policy != JoinPolicy.INVITE),
        "joinPolicy",
        Code.SECRET_NEEDS_INVITE,
        "私密社群只能邀请加入",
    )
    v.check(
        1 <= len(data.alias_prefix.strip()) <= 8,
        "aliasPrefix",
        Code.ALIAS_PREFIX_LENGTH,
        "匿名前缀需为1到8个字符",
    )
    v.check(
        data.cover_url is None or (data.cover_url.startswith("https://") and len(data.cover_url) <= 500),
        "coverUrl",
        Code.URL_INVALID,
        "封面需为 https 链接（不超过500个字符）",
    )
    v.check(len(data.description) <= 5000, "description", CoreCode.DESCRIPTION_LENGTH, "简介不能超过5000个字符")
    v.check(len(data.rules_text) <= 5000, "rulesText", Code.RULES_TEXT_LENGTH, "群规不能超过5000个字符")
    v.check(
        len((data.join_question or "").strip()) <= JOIN_QUESTION_MAX,
        "joinQuestion",
        Code.JOIN_QUESTION_LENGTH,
        f"入群问题不能超过{JOIN_QUESTION_MAX}个字符",
    )
    if data.condition_code is not None:
        known = await session.get(Condition, data.condition_code) if len(data.condition_code) <= 40 else None
        v.check(known is not None, "conditionCode", CoreCode.CONDITION_UNKNOWN, "未知的病种")
    v.raise_if_any()


async def create_group(session: AsyncSession, actor: Actor, data: GroupInput) -> Group:
    actor.require_role(*GROUP_ADMIN_ROLES)
    await _validate(session, data)
    if await session.scalar(select(Group.id).where(Group.slug == data.slug)) is not None:
        raise errors.SlugTaken(field="slug")
    now = clock.now()
    group = Group(
        id=new_id(),
        slug=data.slug,
        name=data.name.strip(),
        condition_code=data.condition_code,
        description=data.description.strip(),
        rules_text=data.rules_text.strip(),
        cover_url=data.cover_url,
        visibility=data.visibility,
        join_policy=data.join_policy,
        allow_anonymous=data.allow_anonymous,
        alias_prefix=data.alias_prefix.strip(),
        join_question=(data.join_question or "").strip() or None,
        member_count=0,
        created_by=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(group)
    await session.flush()
    await audit.record(
        session,
        actor,
        "group_create",
        target_kind="group",
        target_id=group.id,
        group_id=group.id,
        detail={"visibility": data.visibility, "join_policy": data.join_policy},
    )
    return group


async def _count(session: AsyncSession, group_id: uuid.UUID, delta: int) -> None:
    await session.execute(update(Group).where(Group.id == group_id).values(member_count=Group.member_count + delta))


async def join(
    session: AsyncSession,
    actor: Actor,
    group_id: uuid.UUID,
    *,
    note: str | None = None,
    answer: str | None = None,
) -> Membership:
    """Open groups admit at once; approval and verified-diagnosis groups queue a request (with the
    answer to the group's join question, when it has one); invite-only groups admit only someone invited."""
    reply = (answer or "").strip()
    if len(reply) > JOIN_ANSWER_MAX:
        raise DomainError(f"回答不能超过{JOIN_ANSWER_MAX}个字符", field="answer", code=Code.JOIN_ANSWER_LENGTH)
    kind, account_id = access.account_of(actor)
    group = await session.get(Group, group_id, with_for_update=True)
    m = await access.membership(session, group_id, actor, lock=True)
    if group is None or not access.can_see_group(actor, group, m):
        raise errors.GroupNotFound()
    now = clock.now()
    if m is not None:
        if m.state == MemberState.BANNED and (m.banned_until is None or m.banned_until > now):
            raise errors.MemberBanned()
        if m.state in (MemberState.ACTIVE, MemberState.PENDING):
            raise errors.AlreadyMember()
    if group.join_policy == JoinPolicy.INVITE and (m is None or m.state != MemberState.INVITED):
        raise errors.JoinNotAllowed()
    state = MemberState.ACTIVE if group.join_policy in (JoinPolicy.OPEN, JoinPolicy.INVITE) else MemberState.PENDING
    asked = state == MemberState.PENDING and bool(group.join_question)
    if asked and not reply:
        raise DomainError(f"请回答入群问题：{group.join_question}", field="answer", code=Code.JOIN_ANSWER_REQUIRED)
    if m is None:
        m = Membership(
            id=new_id(),
            group_id=group_id,
            account_kind=kind,
            account_id=account_id,
            role=MemberRole.MEMBER,
            state=state,
            created_at=now,
            updated_at=now,
        )
        session.add(m)
    m.state = state
    m.request_note = (note or "").strip()[:300] or None
    m.join_answer = reply if asked else None  # no question asked (or admitted at once): nothing to keep
    m.banned_until = None
    m.updated_at = now
    if state == MemberState.ACTIVE:
        m.joined_at = now
        await _count(session, group_id, 1)
    await session.flush()
    return m


async def leave(session: AsyncSession, actor: Actor, group_id: uuid.UUID) -> Membership:
    m = await access.membership(session, group_id, actor, lock=True)
    if m is None or m.state not in (MemberState.ACTIVE, MemberState.PENDING, MemberState.INVITED):
        raise errors.NotMember()
    if m.state == MemberState.ACTIVE:
        await _count(session, group_id, -1)
    m.state = MemberState.LEFT
    m.updated_at = clock.now()
    return m


@dataclass(frozen=True)
class MemberRef:
    """Which membership an action is about: its id, or the group and the account (kind, id), the pair
    a moderator sees next to a person in a group (`Group.joinRequests`, `GroupAuthor.accountId`)."""

    membership_id: uuid.UUID | None = None
    group_id: uuid.UUID | None = None
    account: tuple[str, uuid.UUID] | None = None

    def __post_init__(self) -> None:
        named = self.group_id is not None or self.account is not None
        if self.membership_id is not None and named:
            raise DomainError(
                "成员编号与社群编号加账号编号只能二选一", field="membershipId", code=Code.MEMBER_TARGET_REQUIRED
            )
        if self.membership_id is None and (self.group_id is None or self.account is None):
            raise DomainError(
                "请指定成员：成员编号（membershipId），或社群编号加账号编号（groupId 和 accountId）",
                field="membershipId",
                code=Code.MEMBER_TARGET_REQUIRED,
            )


def ref_of(target: uuid.UUID | MemberRef) -> MemberRef:
    return target if isinstance(target, MemberRef) else MemberRef(membership_id=target)


async def locked_membership(session: AsyncSession, ref: MemberRef) -> Membership | None:
    """The membership `ref` names, locked for the change (read afresh, not from the session's cache)."""
    if ref.membership_id is not None:
        return await session.get(Membership, ref.membership_id, with_for_update=True, populate_existing=True)
    assert ref.group_id is not None and ref.account is not None
    kind, account_id = ref.account
    return await session.scalar(
        select(Membership)
        .where(
            Membership.group_id == ref.group_id,
            Membership.account_kind == kind,
            Membership.account_id == account_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _check_decider(actor: Actor, group: Group, mine: Membership | None) -> None:
    if group.join_policy == JoinPolicy.VERIFIED:
        if not actor.has_role(*DIAGNOSIS_CHECK_ROLES):
            raise PermissionDenied("需由医护人员确认诊断")
    elif not access.can_moderate(actor, mine):
        raise PermissionDenied()


async def decide_request(
    session: AsyncSession,
    actor: Actor,
    target: uuid.UUID | MemberRef,
    *,
    approve: bool,
    reason: str | None = None,
) -> Membership:
    """Approval groups: a group moderator decides. Verified-diagnosis groups: care staff confirm the
    diagnosis (the confirmation is recorded with who and when). `target`: the membership id, or a
    MemberRef naming the group and the applicant's account."""
    actor.require_authenticated()
    ref = ref_of(target)
    if ref.group_id is not None:
        # Asked by group and account: the right to decide first, so nobody learns whether a person
        # asked to join a disease group from the answer.
        group_first, mine_first = await access.get_group(session, actor, ref.group_id)
        _check_decider(actor, group_first, mine_first)
    m = await locked_membership(session, ref)
    if m is None or m.state != MemberState.PENDING:
        raise NotFound("入群申请不存在或已处理", code=Code.REQUEST_NOT_FOUND)
    group = await session.get(Group, m.group_id)
    assert group is not None
    mine = await access.membership(session, group.id, actor)
    _check_decider(actor, group, mine)
    now = clock.now()
    m.updated_at = now
    if approve:
        m.state = MemberState.ACTIVE
        m.joined_at = now
        m.verified_by = actor.id
        m.verified_at = now
        await _count(session, group.id, 1)
    else:
        m.state = MemberState.REJECTED
    await audit.record(
        session,
        actor,
        "join_approve" if approve else "join_reject",
        target_kind="membership",
        target_id=m.id,
        group_id=group.id,
        reason=reason,
        detail={
            "policy": group.join_policy,
            "diagnosis_verified": approve and group.join_policy == JoinPolicy.VERIFIED,
        },
    )
    return m


async def invite(session: AsyncSession, actor: Actor, group_id: uuid.UUID, patient_id: uuid.UUID) -> Membership:
    _, mine = await access.get_group(session, actor, group_id)
    if not access.can_moderate(actor, mine):
        raise PermissionDenied()
    if await session.get(Patient, patient_id) is None:
        raise NotFound("患者不存在", field="patientId", code=CoreCode.PATIENT_NOT_FOUND)
    m = await session.scalar(
        select(Membership)
        .where(
            Membership.group_id == group_id, Membership.account_kind == "patient", Membership.account_id == patient_id
        )
        .with_for_update()
    )
    now = clock.now()
    if m is None:
        m = Membership(
            id=new_id(),
            group_id=group_id,
            account_kind="patient",
            account_id=patient_id,
            role=MemberRole.MEMBER,
            state=MemberState.INVITED,
            created_at=now,
            updated_at=now,
        )
        session.add(m)
    elif m.state in (MemberState.LEFT, MemberState.REJECTED):
        m.state = MemberState.INVITED
        m.updated_at = now
    await session.flush()
    await audit.record(session, actor, "invite", target_kind="membership", target_id=m.id, group_id=group_id)
    return m


async def set_role(
    session: AsyncSession, actor: Actor, group_id: uuid.UUID, *, account_kind: str, account_id: uuid.UUID, role: str
) -> Membership:
    """Owners and staff moderators appoint moderators and experts. An expert must be an active doctor or
    health manager with a credential valid now (community/credentials.py; checked again when they
    verify an answer, and the badge is computed from it)."""
    _, mine = await access.get_group(session, actor, group_id)
    if not (
        access.is_staff_moderator(actor)
        or (access.is_active(mine) and mine is not None and mine.role == MemberRole.OWNER)
    ):
        raise PermissionDenied()
    if role not in {r.value for r in MemberRole} or account_kind not in ("patient", "staff"):
        raise errors.DomainError("角色无效", field="role", code=Code.ROLE_INVALID)
    account = await session.get(Patient if account_kind == "patient" else Staff, account_id)
    if account is None:
        raise NotFound("账号不存在", field="accountId", code=Code.ACCOUNT_NOT_FOUND)
    if role == MemberRole.EXPERT:
        if account_kind != "staff":
            raise errors.CredentialRequired("社群专家需为经核验执业资质的医生或健康管理师", field="accountId")
        await credentials.require_expert(session, account_id, field="accountId")
    m = await session.scalar(
        select(Membership)
        .where(
            Membership.group_id == group_id,
            Membership.account_kind == account_kind,
            Membership.account_id == account_id,
        )
        .with_for_update()
    )
    now = clock.now()
    if m is None:
        m = Membership(
            id=new_id(),
            group_id=group_id,
            account_kind=account_kind,
            account_id=account_id,
            role=role,
            state=MemberState.ACTIVE,
            joined_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(m)
        await _count(session, group_id, 1)
    old = m.role
    m.role = role
    m.updated_at = now
    await session.flush()
    await audit.record(
        session,
        actor,
        "role_change",
        target_kind="membership",
        target_id=m.id,
        group_id=group_id,
        detail={"from": old, "to": role},
    )
    return m


async def groups_page(session: AsyncSession, actor: Actor, *, first: int | None, after: str | None) -> Page[Group]:
    """Listed groups; secret ones only for their members (and staff moderators)."""
    stmt = select(Group)
    if not access.is_staff_moderator(actor):
        visible = Group.visibility != GroupVisibility.SECRET
        if actor.id is not None:
            kind, account_id = access.account_of(actor)
            mine = select(Membership.group_id).where(
                Membership.account_kind == kind,
                Membership.account_id == account_id,
                Membership.state.in_([MemberState.ACTIVE, MemberState.INVITED]),
            )
            visible = visible | Group.id.in_(mine)
        stmt = stmt.where(visible)
    return await keyset_page(session, stmt, sort=Group.created_at, id_=Group.id, first=first, after=after)


async def group_by_slug(session: AsyncSession, actor: Actor, slug: str) -> Group:
    group_id = await session.scalar(select(Group.id).where(Group.slug == slug))
    if group_id is None:
        raise errors.GroupNotFound()
    group, _ = await access.get_group(session, actor, group_id)
    return group


async def members_page(
    session: AsyncSession, actor: Actor, group_id: uuid.UUID, *, first: int | None, after: str | None
) -> Page[Membership]:
    group, mine = await access.get_group(session, actor, group_id)
    if not access.can_see_members(actor, group, mine):
        raise errors.NotMember()
    stmt = select(Membership).where(Membership.group_id == group_id, Membership.state == MemberState.ACTIVE)
    return await keyset_page(session, stmt, sort=Membership.created_at, id_=Membership.id, first=first, after=after)


def can_see_requests(actor: Actor, group: access.AnyGroup, mine: access.AnyMember | None) -> bool:
    """The group's moderators and owners, staff moderators (and admins); for a verified-diagnosis group
    also the care staff who confirm diagnoses."""
    return access.can_moderate(actor, mine) or (
        group.join_policy == JoinPolicy.VERIFIED and actor.has_role(*DIAGNOSIS_CHECK_ROLES)
    )


def check_requests_reader(actor: Actor, group: access.AnyGroup, mine: access.AnyMember | None) -> None:
    """`can_see_requests`, as the refusal that says why."""
    actor.require_authenticated()
    if not can_see_requests(actor, group, mine):
        raise PermissionDenied("仅本群版主、群主和管理员可以查看入群申请")


async def join_requests_page(
    session: AsyncSession,
    actor: Actor,
    group: access.AnyGroup,
    mine: access.AnyMember | None,
    *,
    first: int | None,
    after: str | None,
) -> Page[Membership]:
    """Pending requests of a group already loaded for the viewer, longest waiting first (a request's
    `updated_at` is when it was made: it changes again only when it is decided or withdrawn)."""
    check_requests_reader(actor, group, mine)
    stmt = select(Membership).where(Membership.group_id == group.id, Membership.state == MemberState.PENDING)
    return await keyset_page(session, stmt, sort=Membership.updated_at, id_=Membership.id, first=first, after=after)


MY_GROUP_STATES = (MemberState.ACTIVE, MemberState.PENDING, MemberState.INVITED, MemberState.BANNED)


async def my_memberships_page(
    session: AsyncSession, actor: Actor, *, state: str | None, first: int | None, after: str | None
) -> Page[Membership]:
    """The signed-in account's memberships, newest first: active, pending, invited and banned ones by
    default (left and rejected on asking by state). A secret group shows only while the account is
    in it or invited (as `access.can_see_group` says)."""
    kind, account_id = access.account_of(actor)
    if state is not None and state not in {s.value for s in MemberState}:
        raise DomainError("成员状态无效", field="state", code=Code.MEMBER_STATE_INVALID)
    states = [state] if state is not None else [s.value for s in MY_GROUP_STATES]
    stmt = (
        select(Membership)
        .join(Group, Group.id == Membership.group_id)
        .where(
            Membership.account_kind == kind,
            Membership.account_id == account_id,
            Membership.state.in_(states),
            (Group.visibility != GroupVisibility.SECRET)
            | Membership.state.in_([MemberState.ACTIVE, MemberState.INVITED]),
        )
    )
    return await keyset_page(
        session, stmt, sort=Membership.created_at, id_=Membership.id, first=first, after=after, descending=True
    )


async def set_notification_level(session: AsyncSession, actor: Actor, group_id: uuid.UUID, level: str) -> Membership:
    """An active member chooses how much of the group they hear about (the notification centre reads it)."""
    if level not in {n.value for n in NotificationLevel}:
        raise DomainError("通知级别无效", field="level", code=Code.NOTIFICATION_LEVEL_INVALID)
    actor.require_authenticated()
    await access.get_group(session, actor, group_id)
    m = await access.membership(session, group_id, actor, lock=True)
    if not access.is_active(m):
        raise errors.NotMember()
    assert m is not None
    m.notification_level = level
    m.updated_at = clock.now()
    await session.flush()
    return m


async def visible_memberships(
    session: AsyncSession, actor: Actor, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Membership]:
    """Memberships by id as `node(id:)` shows them: one's own, and those of a group the viewer
    moderates (pending ones also to whoever may decide them)."""
    rows = list(await session.scalars(select(Membership).where(Membership.id.in_(ids))))
    if actor.id is None or not rows:
        return {}
    kind, account_id = access.viewer_account(actor)
    group_ids = list({m.group_id for m in rows})
    mine = await access.memberships_of(session, actor, group_ids)
    by_group = await groups_by_ids(session, group_ids)
    out: dict[uuid.UUID, Membership] = {}
    for m in rows:
        group, viewer = by_group.get(m.group_id), mine.get(m.group_id)
        if group is None or not access.can_see_group(actor, group, viewer):
            continue
        own = (m.account_kind, m.account_id) == (kind, account_id)
        decider = m.state == MemberState.PENDING and can_see_requests(actor, group, viewer)
        if own or access.can_moderate(actor, viewer) or decider:
            out[m.id] = m
    return out


async def memberships_by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, Membership]:
    return {m.id: m for m in await session.scalars(select(Membership).where(Membership.id.in_(ids)))}


async def groups_by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, Group]:
    return {g.id: g for g in await session.scalars(select(Group).where(Group.id.in_(ids)))}


async def memberships_for(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, str, uuid.UUID]]
) -> dict[tuple[uuid.UUID, str, uuid.UUID], Membership]:
    """Memberships by (group, account kind, account id), for showing author badges in batches."""
    group_ids = {k[0] for k in keys}
    account_ids = {k[2] for k in keys}
    rows = await session.scalars(
        select(Membership).where(Membership.group_id.in_(group_ids), Membership.account_id.in_(account_ids))
    )
    return {(m.group_id, m.account_kind, m.account_id): m for m in rows}
