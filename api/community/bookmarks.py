"""Bookmarks of posts, comments (answers) and articles: bookmarkAdd / bookmarkRemove and myBookmarks
(community/bookmarks.py)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.community.types import CommentType, PostType, post_view
from api.content.types import ContentItemType, wrap, wrap_page
from api.context import Info
from api.error_types import CommunityError
from api.mutations import ValuePayload, mutate
from api.relay import Connection, connection, require_id_of
from community import bookmarks
from core.identity import Actor

_TARGETS = {"post": "Post", "comment": "Comment", "article": "ContentItem"}


@strawberry.enum(name="BookmarkKind", description="收藏的对象：帖子、评论（回答）、文章")
class BookmarkKind(enum.StrEnum):
    POST = "post"
    COMMENT = "comment"
    ARTICLE = "article"


BookmarkTarget = Annotated[
    PostType | CommentType | ContentItemType,
    strawberry.union("BookmarkTarget", description="收藏的帖子、评论（回答）或文章"),
]


@strawberry.type(name="Bookmark", description="一条收藏：只列出我现在仍能阅读的内容")
class BookmarkType:
    kind: BookmarkKind
    bookmarked_at: datetime
    target: BookmarkTarget
    post: PostType | None = strawberry.field(description="收藏的帖子，或收藏的评论所在的帖子；文章为 null")


def _view(saved: bookmarks.Saved, info: Info, cards: dict | None = None) -> BookmarkType:
    post = post_view(saved.post, info) if saved.post is not None else None
    target: PostType | CommentType | ContentItemType
    if saved.kind == "article":
        assert saved.article is not None
        target = cards[saved.target_id] if cards is not None else wrap(saved.article, info)
    elif saved.kind == "comment":
        assert saved.comment is not None and saved.post is not None
        target = CommentType.from_model(saved.comment, group_id=saved.post.group_id)
    else:
        assert post is not None
        target = post
    return BookmarkType(kind=BookmarkKind(saved.kind), bookmarked_at=saved.created_at, target=target, post=post)


@strawberry.input
class BookmarkInput:
    target_id: strawberry.ID = strawberry.field(description="Post、Comment 或 ContentItem 的全局编号")


@strawberry.type
class BookmarkAddPayload:
    bookmark: BookmarkType | None = None
    errors: list[CommunityError]

    @classmethod
    def of(cls, saved: bookmarks.Saved, info: Info) -> BookmarkAddPayload:
        return cls(bookmark=_view(saved, info), errors=[])


@strawberry.type
class BookmarkRemovePayload(ValuePayload):
    removed: bool = strawberry.field(default=False, description="原本有这条收藏并已取消")
    errors: list[CommunityError]


@strawberry.type
class BookmarkMutation:
    @strawberry.mutation(description="收藏帖子、评论（回答）或文章；重复收藏不会产生第二条（文章仅患者）")
    async def bookmark_add(self, info: Info, input: BookmarkInput) -> BookmarkAddPayload:
        async def work(s: AsyncSession, a: Actor) -> bookmarks.Saved:
            kind, target_id = require_id_of(input.target_id, _TARGETS, "targetId")
            return await bookmarks.add(s, a, kind=kind, target_id=target_id)

        return await mutate(info, BookmarkAddPayload, work)

    @strawberry.mutation(description="取消收藏；没有收藏时 removed 为 false，不报错")
    async def bookmark_remove(self, info: Info, input: BookmarkInput) -> BookmarkRemovePayload:
        async def work(s: AsyncSession, a: Actor) -> bool:
            kind, target_id = require_id_of(input.target_id, _TARGETS, "targetId")
            return await bookmarks.remove(s, a, kind=kind, target_id=target_id)

        return await mutate(info, BookmarkRemovePayload, work)


@strawberry.type
class BookmarkQuery:
    @strawberry.field(
        description="我的收藏（帖子、评论、文章），最近收藏的在前；已不能阅读的（如已退出的社群里的帖子、已删除的内容）不列出"
    )
    async def my_bookmarks(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[BookmarkType]:
        page = await info.context.read(bookmarks.page, first=first, after=after)
        articles = [s.article for s in page.items if s.article is not None]
        cards = await wrap_page(articles, info) if articles else {}
        return connection(page, lambda s: _view(s, info, cards))
