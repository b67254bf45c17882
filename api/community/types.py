"""GraphQL views of groups, members, posts and comments."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, cast

import strawberry

from api.context import Info
from api.identity.types import Condition
from api.media.types import ImageType, post_images
from api.relay import Connection, Node, connection, node_fetcher, raw_uuids, read_nodes, read_page, to_global_id
from api.views import Later, node_view, view
from community import access, comments, credentials, groups, models, posts
from core.errors import DomainError
from core.identity import Actor
from core.pagination import page_size
from core.text import render_markdown
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
NotificationLevel = models.NotificationLevel
strawberry.enum(NotificationLevel, name="NotificationLevel", description="群消息通知级别：全部、仅精选、不通知")


@strawberry.type(description="不能查看的原因（不是错误）：code 供程序判断，message 可直接展示给用户")
class AccessRefusal:
    code: str
    message: str

    @classmethod
    def of(cls, refusal: DomainError) -> AccessRefusal:
        issue = refusal.issues[0]
        return cls(code=issue.code, message=issue.message)


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


@strawberry.type(
    description="某个社群里的作者或成员：角色和认证专家徽章只属于这个社群。编号包含社群（同一个人在不同社群是"
    "不同的 GroupAuthor），客户端缓存因此不会把一个群的徽章带到另一个群；匿名作者只有群内化名，没有账号编号"
)
class GroupAuthor:
    id: strawberry.ID
    display_name: str
    anonymous: bool
    is_expert: bool = strawberry.field(description="本群认证专家：本群专家角色，且执业资质此刻经核验、在有效期内")
    is_staff: bool
    role: MemberRole | None = strawberry.field(description="在本群的角色；匿名或非成员为 null")
    account_id: strawberry.ID | None = strawberry.field(
        description="Patient 或 Staff 的全局编号（版主按 groupId + accountId 处理成员）；匿名时为 null"
    )

    def as_author(self) -> Author:
        return Author(
            display_name=self.display_name,
            anonymous=self.anonymous,
            is_expert=self.is_expert,
            is_staff=self.is_staff,
            id=self.account_id,
        )


def alias_author(group_id: uuid.UUID, prefix: str, number: int | None) -> GroupAuthor:
    return GroupAuthor(
        id=to_global_id("GroupAuthor", f"{group_id}:alias:{number or 0}"),
        display_name=f"{prefix}#{number or '----'}",
        anonymous=True,
        is_expert=False,
        is_staff=False,
        role=None,
        account_id=None,
    )


def named_author(
    group_id: uuid.UUID, kind: str, account_id: uuid.UUID, name: str, role: str | None, expert: bool
) -> GroupAuthor:
    staff = kind == "staff"
    return GroupAuthor(
        id=to_global_id("GroupAuthor", f"{group_id}:{kind}:{account_id}"),
        display_name=name,
        anonymous=False,
        is_expert=expert,
        is_staff=staff,
        role=models.MemberRole(role) if role else None,
        account_id=to_global_id("Staff" if staff else "Patient", account_id),
    )


async def group_author_of(
    info: Info,
    group_id: uuid.UUID,
    kind: str,
    account_id: uuid.UUID,
    anonymous: bool,
    membership: models.Membership | None = None,
) -> GroupAuthor:
    """A person as shown in one group (through the DataLoaders); `membership` when already loaded."""
    if anonymous:
        group = await info.context.load(groups.groups_by_ids, group_id)
        number = await info.context.load(posts.aliases, (group_id, account_id))
        return alias_author(group_id, group.alias_prefix if group else "病友", number)
    if membership is None:
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
    else:
        patient = await info.context.load(patient_queries.patients_by_ids, account_id)
        name = patient.nickname if patient else "已注销用户"
    return named_author(group_id, kind, account_id, name, membership.role if membership else None, expert)


async def author_of(info: Info, group_id: uuid.UUID, kind: str, account_id: uuid.UUID, anonymous: bool) -> Author:
    return (await group_author_of(info, group_id, kind, account_id, anonymous)).as_author()


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


@strawberry.type(description="评论的一个旧版本（修改或删除前的文本）")
class CommentRevision:
    body: str = strawberry.field(description="当时的原文（Markdown）")
    body_html: str = strawberry.field(description="已净化的 HTML")
    edited_at: datetime = strawberry.field(description="被修改或删除的时间")


@strawberry.type(description="评论的修改历史，最新的在前")
class CommentRevisionList:
    items: list[CommentRevision]


CommentRevisionsResult = Annotated[
    CommentRevisionList | AccessRefusal,
    strawberry.union("CommentRevisionsResult", description="修改历史，或不能查看的原因"),
]


_DEPRECATED_AUTHOR = "请改用 groupAuthor：Author 的编号是个人编号，客户端缓存会把一个群的专家徽章带到别的群"


@strawberry.type(name="Comment", description="评论（一层回复）")
class CommentType(Node):
    model: strawberry.Private[models.Comment]
    group_id: strawberry.Private[uuid.UUID]

    body_html: str = strawberry.field(description="已净化的 HTML；已删除（REMOVED）的评论为空")
    status: ContentStatus
    parent_id: strawberry.ID | None
    created_at: datetime
    edited_at: datetime | None = strawberry.field(description="作者最后一次修改的时间")

    @classmethod
    def from_model(cls, row: models.Comment, *, group_id: uuid.UUID) -> CommentType:
        removed = row.status == models.ContentStatus.REMOVED
        return node_view(
            cls,
            row,
            group_id=group_id,
            body_html="" if removed else row.body_html,  # soft-deleted: the text is shown to nobody
            status=models.ContentStatus(row.status),
            parent_id=to_global_id("Comment", row.parent_id) if row.parent_id else None,
        )

    @strawberry.field(deprecation_reason=_DEPRECATED_AUTHOR)
    async def author(self, info: Info) -> Author:
        m = self.model
        return await author_of(info, self.group_id, m.author_kind, m.author_id, m.anonymous)

    @strawberry.field(description="作者在本群的身份（化名、角色、专家徽章）")
    async def group_author(self, info: Info) -> GroupAuthor:
        m = self.model
        return await group_author_of(info, self.group_id, m.author_kind, m.author_id, m.anonymous)

    @strawberry.field(
        description="修改历史（作者修改前、删除前和版主删除前的文本）：仅本群版主、群主和管理员可见，"
        "其他人（包括作者本人）得到 AccessRefusal"
    )
    async def revisions(self, info: Info, first: int | None = 20) -> CommentRevisionsResult:
        member = await viewer_loader(info, "memberships", _viewer_memberships).load(self.group_id)
        try:
            comments.check_revisions_reader(info.context.actor, member)
        except DomainError as refusal:
            return AccessRefusal.of(refusal)
        size = page_size(first)
        rows = await info.context.load(comments.revisions_of, self.model.id) or []
        return CommentRevisionList(
            items=[
                CommentRevision(body=r.body_md, body_html=render_markdown(r.body_md), edited_at=r.edited_at)
                for r in rows[:size]
            ]
        )

    @strawberry.field
    async def reaction_counts(self, info: Info) -> ReactionCounts:
        return await _counts(info, "comment", self.model.id)

    @strawberry.field(description="我对这条评论的表情")
    async def viewer_reactions(self, info: Info) -> list[ReactionKind]:
        return await _mine(info, self.model.id)


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
    author: Author = strawberry.field(deprecation_reason=_DEPRECATED_AUTHOR)
    group_author: GroupAuthor = strawberry.field(description="作者在本群的身份（化名、角色、专家徽章）")
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
        shown = c is not None and posts.answer_shown(info.context.actor, c)
        return CommentType.from_model(c, group_id=self.group_id) if c is not None and shown else None

    @strawberry.field(description="提问者采纳的回答")
    async def accepted_answer(self, info: Info) -> CommentType | None:
        if self.accepted_answer_id is None:
            return None
        c = await info.context.load(posts.comments_by_ids, self.accepted_answer_id)
        shown = c is not None and posts.answer_shown(info.context.actor, c)
        return CommentType.from_model(c, group_id=self.group_id) if c is not None and shown else None

    @strawberry.field(
        description="上传的图片（按作者给出的顺序，带签名链接；待审核的仅作者和版主可见）；imageUrls 为外链图片"
    )
    async def image_list(self, info: Info) -> list[ImageType]:
        return await post_images(info, self.raw_id)

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
        group_author=cast(
            GroupAuthor, Later(lambda: group_author_of(info, m.group_id, m.author_kind, m.author_id, m.anonymous))
        ),
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
        group_author = alias_author(r["group_id"], alias_prefix, r["alias_number"])
    else:
        group_author = named_author(
            r["group_id"], r["author_kind"], r["author_id"], r["author_name"], r["author_role"], r["author_expert"]
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
        author=group_author.as_author(),
        group_author=group_author,
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


PINNED_MAX = posts.PINNED_MAX  # (inside GroupType, `posts` is the field)

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
    join_question: str | None = strawberry.field(description="入群问题：申请加入审核群或确诊群时须回答")

    @classmethod
    def from_model(cls, row: models.Group | access.GroupRow, *, member: Any = NOT_LOADED) -> GroupType:
        return node_view(
            cls,
            row,
            member=member,
            visibility=models.GroupVisibility(row.visibility),
            join_policy=models.JoinPolicy(row.join_policy),
        )

    async def _viewer(self, info: Info) -> access.AnyMember | None:
        """The viewer's membership: loaded with the group, or through the request's batch loader."""
        if self.member is not NOT_LOADED:
            return self.member
        return await viewer_loader(info, "memberships", _viewer_memberships).load(self.model.id)

    @strawberry.field(description="我在本群的身份；未加入时为 null")
    async def viewer_membership(self, info: Info) -> ViewerMembership | None:
        m = await self._viewer(info)
        if m is None:
            return None
        return view(ViewerMembership, m, role=models.MemberRole(m.role), state=models.MemberState(m.state))

    @strawberry.field(
        description="群动态：置顶在前，其余按时间倒序。无权查看时为 null（errors 中有 NOT_A_MEMBER），"
        "不影响列表中的其他社群；新客户端请用 posts、pinnedPosts 和 readRefusal"
    )
    async def feed(self, info: Info, first: int | None = 20, after: str | None = None) -> GroupFeed | None:
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

    @strawberry.field(description="不能查看本群帖子的原因（如 NOT_A_MEMBER）；能查看时为 null")
    async def read_refusal(self, info: Info) -> AccessRefusal | None:
        try:
            access.check_reader(info.context.actor, self.model, await self._viewer(info))
        except DomainError as refusal:
            return AccessRefusal.of(refusal)
        return None

    @strawberry.field(
        description="本群帖子（不含置顶帖，置顶帖见 pinnedPosts），最新的在前，可按类型筛选。参数都在这个连接字段上："
        "Apollo 可直接用 relayStylePagination(['kind'])。无权查看时为 null（不报错），原因见 readRefusal"
    )
    async def posts(
        self, info: Info, first: int | None = 20, after: str | None = None, kind: PostKind | None = None
    ) -> Connection[PostType] | None:
        actor = info.context.actor
        member = await self._viewer(info)
        if not access.can_read_posts(actor, self.model, member):
            return None
        async with info.context.db.read() as session:
            page = await posts.group_posts_rows(
                session, actor, self.model, member, first=first, after=after, kind=kind.value if kind else None
            )
        prefix = self.model.alias_prefix
        return connection(page, lambda r: feed_post_view(r, prefix))

    @strawberry.field(
        description=f"置顶帖（最多{PINNED_MAX}篇），最新的在前，与分页无关。"
        "无权查看时为 null（不报错），原因见 readRefusal"
    )
    async def pinned_posts(
        self, info: Info, first: int | None = PINNED_MAX, kind: PostKind | None = None
    ) -> list[PostType] | None:
        actor = info.context.actor
        member = await self._viewer(info)
        if not access.can_read_posts(actor, self.model, member):
            return None
        async with info.context.db.read() as session:
            rows = await posts.pinned_rows(
                session, actor, self.model, member, first=first, kind=kind.value if kind else None
            )
        prefix = self.model.alias_prefix
        return [feed_post_view(r, prefix) for r in rows]

    @strawberry.field(
        description="待审核的入群申请（申请人昵称和对入群问题的回答），等待最久的在前。本群版主、群主、管理员可见"
        "（确诊群还有医护人员）；其他人得到 AccessRefusal，而不是 null"
    )
    async def join_requests(self, info: Info, first: int | None = 20, after: str | None = None) -> JoinRequestsResult:
        actor = info.context.actor
        member = await self._viewer(info)
        try:
            groups.check_requests_reader(actor, self.model, member)
        except DomainError as refusal:
            return AccessRefusal.of(refusal)
        page = await read_page(
            info,
            lambda s, a: groups.join_requests_page(s, a, self.model, member, first=first, after=after),
            lambda m: MembershipType.from_model(m, viewer=actor),
        )
        return MembershipConnection.of(page)

    @strawberry.field(description="成员列表（仅成员可见）")
    async def members(self, info: Info, first: int | None = 20, after: str | None = None) -> Connection[MemberType]:
        return await read_page(
            info, lambda s, a: groups.members_page(s, a, self.model.id, first=first, after=after), MemberType.from_model
        )


@strawberry.type(
    name="Membership",
    description="社群成员身份（角色、状态、加入时间）：本人、本群版主和管理员可见；"
    "编号可用于 groupRequestDecide、memberRestrict",
)
class MembershipType(Node):
    model: strawberry.Private[models.Membership]
    own: strawberry.Private[bool]  # the viewer's own membership

    role: MemberRole
    state: MemberState
    joined_at: datetime | None
    muted_until: datetime | None
    banned_until: datetime | None
    join_answer: str | None = strawberry.field(description="申请时对本群入群问题的回答")
    note: str | None = strawberry.field(description="入群申请说明")
    requested_at: datetime | None = strawberry.field(description="申请加入的时间（仅待审核时）")
    created_at: datetime

    @classmethod
    def from_model(cls, row: models.Membership, *, viewer: Actor) -> MembershipType:
        return node_view(
            cls,
            row,
            own=(row.account_kind, row.account_id) == access.viewer_account(viewer),
            role=models.MemberRole(row.role),
            state=models.MemberState(row.state),
            note=row.request_note,
            requested_at=row.updated_at if row.state == models.MemberState.PENDING else None,
        )

    @strawberry.field(description="所在社群")
    async def group(self, info: Info) -> GroupType | None:
        g = await info.context.load(groups.groups_by_ids, self.model.group_id)
        if g is None:
            return None
        return GroupType.from_model(g, member=self.model if self.own else NOT_LOADED)

    @strawberry.field(description="成员在本群的身份（昵称，不含手机号；角色、专家徽章、账号编号）")
    async def member(self, info: Info) -> GroupAuthor:
        m = self.model
        return await group_author_of(info, m.group_id, m.account_kind, m.account_id, False, membership=m)

    @strawberry.field(description="本群消息通知级别；只有本人能看到，其他人为 null")
    async def notification_level(self) -> NotificationLevel | None:
        return models.NotificationLevel(self.model.notification_level) if self.own else None


@strawberry.type(name="MembershipConnection")
class MembershipConnection(Connection[MembershipType]):
    """A concrete class, not `Connection[MembershipType]`: a union member must be one (strawberry
    cannot tell the type of a generic connection object at run time)."""

    @classmethod
    def of(cls, page: Connection[MembershipType]) -> MembershipConnection:
        return cls(edges=page.edges, page_info=page.page_info)


JoinRequestsResult = Annotated[
    MembershipConnection | AccessRefusal,
    strawberry.union("JoinRequestsResult", description="入群申请，或不能查看的原因"),
]


@node_fetcher("Membership")
async def _fetch_memberships(info: Info, raw: Sequence[str]) -> list[Any]:
    viewer = info.context.actor
    return await read_nodes(
        info, raw, groups.visible_memberships, lambda m: MembershipType.from_model(m, viewer=viewer)
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
