"""GraphQL views of groups, members, posts and comments."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Generator, Sequence
from datetime import datetime
from typing import Any

import strawberry

from api.context import Info
from api.identity.types import Condition
from api.relay import Connection, Node, connection, node_fetcher, raw_uuids, read_page, to_global_id
from api.views import node_view, view
from community import access, credentials, groups, models, posts
from patients import queries as patient_queries

GroupVisibility = models.GroupVisibility
strawberry.enum(GroupVisibility, name="GroupVisibility")
JoinPolicy = models.JoinPolicy
strawberry.enum(JoinPolicy, name="JoinPolicy")
MemberRole = models.MemberRole
strawberry.enum(MemberRole, name="MemberRole")
MemberState = models.MemberState
strawberry.enum(MemberState, name="MemberState")
PostKind = models.PostKind
strawberry.enum(PostKind, name="PostKind")
ContentStatus = models.ContentStatus
strawberry.enum(ContentStatus, name="ContentStatus")
ReactionKind = models.ReactionKind
strawberry.enum(ReactionKind, name="ReactionKind")


# --- batch loaders ----------------------------------------------------------------------------


async def _conditions(session: Any, codes: Sequence[str]) -> dict[str, Any]:
    return {c.code: c for c in await patient_queries.list_conditions(session) if c.code in set(codes)}


async def _reaction_counts(session: Any, keys: Sequence[tuple[str, uuid.UUID]]) -> dict[Any, dict[str, int]]:
    return await posts.reaction_counts(session, keys)


def _viewer_reactions(actor: Any) -> Any:
    async def load(session: Any, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
        return await posts.my_reactions(session, actor, ids)

    return load


def _viewer_memberships(actor: Any) -> Any:
    async def load(session: Any, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, models.Membership]:
        return await access.memberships_of(session, actor, ids)

    return load


# Loader functions must be the same object for the whole request, so the viewer-bound ones are
# cached on the context under a fixed key.
def viewer_loader(info: Info, name: str, factory: Any) -> Any:
    cache = info.context.__dict__.setdefault("_viewer_loaders", {})
    if name not in cache:
        cache[name] = factory(info.context.actor)
    return info.context.loaders.get(cache[name])


@strawberry.type
class ViewerMembership:
    role: MemberRole
    state: MemberState
    muted_until: datetime | None
    banned_until: datetime | None
    notification_level: str


@strawberry.type(description="作者：匿名帖只显示群内固定化名")
class Author:
    display_name: str
    anonymous: bool
    is_expert: bool = strawberry.field(description="本群认证专家：本群专家角色，且执业资质此刻经核验、在有效期内")
    is_staff: bool
    id: strawberry.ID | None = strawberry.field(description="非匿名时的作者编号")


async def author_of(info: Info, group_id: uuid.UUID, kind: str, account_id: uuid.UUID, anonymous: bool) -> Author:
    group = await info.context.load(groups.groups_by_ids, group_id)
    if anonymous:
        number = await info.context.load(posts.aliases, (group_id, account_id))
        prefix = group.alias_prefix if group else "病友"
        return Author(
            display_name=f"{prefix}#{number or '----'}", anonymous=True, is_expert=False, is_staff=False, id=None
        )
    membership = await info.context.load(groups.memberships_for, (group_id, kind, account_id))
    # The badge is the credential valid now, not just the role: it goes the moment a credential lapses.
    expert = (
        kind == "staff"
        and membership is not None
        and membership.role == models.MemberRole.EXPERT
        and bool(await info.context.load(credentials.experts_now, account_id))
    )
    if kind == "staff":
        staff = await info.context.load(patient_queries.staff_by_ids, account_id)
        name = staff.name if staff else "工作人员"
        return Author(
            display_name=name, anonymous=False, is_expert=expert, is_staff=True, id=to_global_id("Staff", account_id)
        )
    patient = await info.context.load(patient_queries.patients_by_ids, account_id)
    return Author(
        display_name=patient.nickname if patient else "已注销用户",
        anonymous=False,
        is_expert=expert,
        is_staff=False,
        id=to_global_id("Patient", account_id),
    )


@strawberry.type
class ReactionCounts:
    like: int
    helpful: int
    hug: int


async def _counts(info: Info, kind: str, target_id: uuid.UUID) -> ReactionCounts:
    counts = await info.context.load(_reaction_counts, (kind, target_id)) or {}
    return ReactionCounts(like=counts.get("like", 0), helpful=counts.get("helpful", 0), hug=counts.get("hug", 0))


async def _mine(info: Info, target_id: uuid.UUID) -> list[models.ReactionKind]:
    kinds = await viewer_loader(info, "reactions", _viewer_reactions).load(target_id)
    return [models.ReactionKind(k) for k in kinds or []]


@strawberry.type(name="Comment", description="评论（一层回复）")
class CommentType(Node):
    model: strawberry.Private[models.Comment]
    group_id: strawberry.Private[uuid.UUID]

    body_html: str
    status: ContentStatus
    parent_id: strawberry.ID | None
    created_at: datetime

    @classmethod
    def from_model(cls, row: models.Comment, *, group_id: uuid.UUID) -> CommentType:
        return node_view(
            cls,
            row,
            group_id=group_id,
            status=models.ContentStatus(row.status),
            parent_id=to_global_id("Comment", row.parent_id) if row.parent_id else None,
        )

    @strawberry.field
    async def author(self, info: Info) -> Author:
        m = self.model
        return await author_of(info, self.group_id, m.author_kind, m.author_id, m.anonymous)

    @strawberry.field
    async def reaction_counts(self, info: Info) -> ReactionCounts:
        return await _counts(info, "comment", self.model.id)

    @strawberry.field(description="我对这条评论的表情")
    async def viewer_reactions(self, info: Info) -> list[ReactionKind]:
        return await _mine(info, self.model.id)


class Later:
    """A field value made on first await: graphql-core awaits an awaitable attribute, so a plain-attribute
    field can still load through the DataLoaders, and only when the query asks for it."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[], Awaitable[Any]]) -> None:
        self._make = make

    def __await__(self) -> Generator[Any, None, Any]:
        return self._make().__await__()


# Plain attributes, no resolvers: graphql-core reads each scalar with getattr (no per-field coroutine,
# Info object or argument handling). A post read on its own (node, mutation payloads, live updates)
# gets `author`, `reactionCounts` and `viewerReactions` as `Later`s through the DataLoaders
# (`post_view`); the feed fills them from its one prefetching statement (`feed_post_view`).
@strawberry.type(name="Post", description="帖子")
class PostType(Node):
    id: strawberry.ID
    kind: PostKind
    title: str
    body_html: str = strawberry.field(description="已净化的 HTML")
    image_urls: list[str]
    status: ContentStatus = strawberry.field(description="PUBLISHED 以外的状态只有作者和版主能看到")
    pinned: bool
    locked: bool
    comment_count: int
    created_at: datetime
    edited_at: datetime | None
    author: Author
    reaction_counts: ReactionCounts
    viewer_reactions: list[ReactionKind] = strawberry.field(description="我对这篇帖子的表情")
    raw_id: strawberry.Private[uuid.UUID]
    group_id: strawberry.Private[uuid.UUID]
    verified_answer_id: strawberry.Private[uuid.UUID | None]
    accepted_answer_id: strawberry.Private[uuid.UUID | None]
    verified_answer_at: datetime | None = strawberry.field(
        description="回答被专家认证的时间：认证时专家资质有效，资质此后到期也保留"
    )

    @strawberry.field(description="专家认证的回答")
    async def verified_answer(self, info: Info) -> CommentType | None:
        if self.verified_answer_id is None:
            return None
        c = await info.context.load(posts.comments_by_ids, self.verified_answer_id)
        return CommentType.from_model(c, group_id=self.group_id) if c else None

    @strawberry.field(description="提问者采纳的回答")
    async def accepted_answer(self, info: Info) -> CommentType | None:
        if self.accepted_answer_id is None:
            return None
        c = await info.context.load(posts.comments_by_ids, self.accepted_answer_id)
        return CommentType.from_model(c, group_id=self.group_id) if c else None

    @strawberry.field
    async def comments(self, info: Info, first: int | None = 20, after: str | None = None) -> Connection[CommentType]:
        return await read_page(
            info,
            lambda s, a: posts.comments_page(s, a, self.raw_id, first=first, after=after),
            lambda c: CommentType.from_model(c, group_id=self.group_id),
        )


def post_view(m: models.Post, info: Info) -> PostType:
    """A post loaded on its own; author, counts and the viewer's reactions come through the DataLoaders."""
    return PostType(
        id=to_global_id("Post", m.id),
        kind=models.PostKind(m.kind),
        title=m.title,
        body_html=m.body_html,
        image_urls=list(m.image_urls),
        status=models.ContentStatus(m.status),
        pinned=m.pinned,
        locked=m.locked,
        comment_count=m.comment_count,
        created_at=m.created_at,
        edited_at=m.edited_at,
        author=Later(lambda: author_of(info, m.group_id, m.author_kind, m.author_id, m.anonymous)),  # type: ignore[arg-type]
        reaction_counts=Later(lambda: _counts(info, "post", m.id)),  # type: ignore[arg-type]
        viewer_reactions=Later(lambda: _mine(info, m.id)),  # type: ignore[arg-type]
        raw_id=m.id,
        group_id=m.group_id,
        verified_answer_id=m.verified_answer_id,
        accepted_answer_id=m.accepted_answer_id,
        verified_answer_at=m.verified_answer_at,
    )


def feed_post_view(r: Any, alias_prefix: str) -> PostType:
    """A post row of `posts.group_feed_rows` (author, counts and viewer reactions prefetched)."""
    post_id = r["id"]
    if r["anonymous"]:
        number = r["alias_number"]
        author = Author(
            display_name=f"{alias_prefix}#{number or '----'}", anonymous=True, is_expert=False, is_staff=False, id=None
        )
    else:
        staff = r["author_kind"] == "staff"
        author = Author(
            display_name=r["author_name"],
            anonymous=False,
            is_expert=r["author_expert"],
            is_staff=staff,
            id=to_global_id("Staff" if staff else "Patient", r["author_id"]),
        )
    return PostType(
        id=to_global_id("Post", post_id),
        kind=r["kind"],
        title=r["title"],
        body_html=r["body_html"],
        image_urls=r["image_urls"],
        status=r["status"],
        pinned=r["pinned"],
        locked=r["locked"],
        comment_count=r["comment_count"],
        created_at=r["created_at"],
        edited_at=r["edited_at"],
        author=author,
        reaction_counts=ReactionCounts(like=r["likes"], helpful=r["helpful"], hug=r["hugs"]),
        viewer_reactions=r["viewer_kinds"] or [],
        raw_id=post_id,
        group_id=r["group_id"],
        verified_answer_id=r["verified_answer_id"],
        accepted_answer_id=r["accepted_answer_id"],
        verified_answer_at=r["verified_answer_at"],
    )


@strawberry.type
class GroupFeed:
    pinned: list[PostType]
    posts: Connection[PostType]


@strawberry.type(name="GroupMember")
class MemberType:
    model: strawberry.Private[models.Membership]

    role: MemberRole
    joined_at: datetime | None

    @classmethod
    def from_model(cls, row: models.Membership) -> MemberType:
        return cls(
            model=row,
            role=models.MemberRole(row.role),
            joined_at=row.joined_at,
        )

    @strawberry.field
    async def display_name(self, info: Info) -> str:
        author = await author_of(info, self.model.group_id, self.model.account_kind, self.model.account_id, False)
        return author.display_name


# The viewer's membership was not loaded with the group (GroupType.member).
NOT_LOADED: Any = object()


async def _group_condition(root: GroupType, info: Info) -> Condition | None:
    if not root.model.condition_code:
        return None
    c = await info.context.load(_conditions, root.model.condition_code)
    return Condition.of(c) if c else None


@strawberry.type(name="Group", description="病友社群")
class GroupType(Node):
    model: strawberry.Private[models.Group | access.GroupRow]
    # The viewer's membership when it came with the group (group(slug:)), else NOT_LOADED.
    member: strawberry.Private[Any] = NOT_LOADED

    slug: str
    name: str
    condition: Condition | None = strawberry.field(resolver=_group_condition)
    description: str
    rules_text: str
    cover_url: str | None
    visibility: GroupVisibility
    join_policy: JoinPolicy
    allow_anonymous: bool
    member_count: int

    @classmethod
    def from_model(cls, row: models.Group | access.GroupRow, *, member: Any = NOT_LOADED) -> GroupType:
        return node_view(
            cls,
            row,
            member=member,
            visibility=models.GroupVisibility(row.visibility),
            join_policy=models.JoinPolicy(row.join_policy),
        )

    @strawberry.field(description="我在本群的身份；未加入时为 null")
    async def viewer_membership(self, info: Info) -> ViewerMembership | None:
        if self.member is not NOT_LOADED:
            m = self.member
        else:
            m = await viewer_loader(info, "memberships", _viewer_memberships).load(self.model.id)
        if m is None:
            return None
        return view(ViewerMembership, m, role=models.MemberRole(m.role), state=models.MemberState(m.state))

    @strawberry.field(description="群动态：置顶在前，其余按时间倒序")
    async def feed(self, info: Info, first: int | None = 20, after: str | None = None) -> GroupFeed:
        actor = info.context.actor
        async with info.context.db.read() as session:
            group: access.AnyGroup
            if self.member is NOT_LOADED:
                group, member = await access.require_reader(session, actor, self.model.id)
            else:  # loaded with the group in this request: the same check, no second read
                group, member = self.model, self.member
            rows = await posts.group_feed_rows(session, actor, group, member, first=first, after=after)
        prefix = group.alias_prefix
        return GroupFeed(
            pinned=[feed_post_view(r, prefix) for r in rows.pinned],
            posts=connection(rows.page, lambda r: feed_post_view(r, prefix)),
        )

    @strawberry.field(description="成员列表（仅成员可见）")
    async def members(self, info: Info, first: int | None = 20, after: str | None = None) -> Connection[MemberType]:
        return await read_page(
            info, lambda s, a: groups.members_page(s, a, self.model.id, first=first, after=after), MemberType.from_model
        )


@node_fetcher("Group")
async def _fetch_groups(info: Info, raw: Sequence[str]) -> list[Any]:
    out: list[Any] = []
    async with info.context.db.read() as session:
        for gid in raw_uuids(raw):
            try:
                group, _ = await access.get_group(session, info.context.actor, gid) if gid else (None, None)
            except access.errors.GroupNotFound:
                group = None
            out.append(GroupType.from_model(group) if group else None)
    return out


@node_fetcher("Post")
async def _fetch_posts(info: Info, raw: Sequence[str]) -> list[Any]:
    out: list[Any] = []
    async with info.context.db.read() as session:
        for pid in raw_uuids(raw):
            try:
                post, _, _ = await posts.get_post(session, info.context.actor, pid) if pid else (None, None, None)
            except (access.errors.PostNotFound, access.errors.GroupNotFound):
                post = None
            out.append(post_view(post, info) if post else None)
    return out
