"""postSearch: community posts by Chinese words or single characters (community/search.py), only those
the viewer may read, anonymous posts under their group alias."""

from __future__ import annotations

import strawberry

from api.community.types import PostType, feed_post_view
from api.context import Info
from api.relay import Connection, connection, optional_id
from community import search


@strawberry.type(name="PostSearchHit")
class PostSearchHitType:
    post: PostType = strawberry.field(description="帖子；匿名帖只显示群内化名")
    title_highlight: str = strawberry.field(description="标题，命中词以 <em> 标出（已转义）")
    snippet: str = strawberry.field(description="正文片段，命中词以 <em> 标出（已转义）")

    @classmethod
    def of(cls, hit: search.Hit) -> PostSearchHitType:
        """From the search's plain rows: plain attributes only, completed in one walk (api/plain.py)."""
        r = hit.post
        return cls(post=feed_post_view(r, r["alias_prefix"]), title_highlight=hit.title_highlight, snippet=hit.snippet)


@strawberry.type
class PostSearchQuery:
    @strawberry.field(
        description="搜索帖子（与内容搜索相同的中文分词；单字如“糖”“血”也可搜索）：只返回我能阅读的社群里已发布的帖子，"
        "按相关度、再按时间排序；可限定一个社群（groupId）。搜索词1到100个字符，否则 SEARCH_QUERY_INVALID"
    )
    async def post_search(
        self,
        info: Info,
        query: str,
        group_id: strawberry.ID | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[PostSearchHitType]:
        group = optional_id(group_id, "Group", "groupId")
        page = await info.context.read(search.search_posts, query, group_id=group, first=first, after=after)
        return connection(page, PostSearchHitType.of)
