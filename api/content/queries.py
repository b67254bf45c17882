"""Content queries: one item, the personalised feed, search, the editors' list, stats and the
compliance word list (bookmarks of articles are listed with posts and comments: myBookmarks in
api/community/bookmarks.py). Reader paths all pass content.access."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.content.types import (
    ContentItemType,
    ContentStatus,
    DayStatsType,
    FindingType,
    SearchHitType,
    TermType,
    fetch_items,
    wrap,
    wrap_feed,
    wrap_page,
)
from api.context import Info
from api.relay import Connection, connection, parse_uuid_id, read_page, require_id
from api.views import view
from content import access, compliance, engagement, feed, search, service


@strawberry.type
class ContentQuery:
    @strawberry.field(description="按编号取内容；无权阅读时为 null（内容运营与审核可看全部状态）")
    async def content_item(self, info: Info, id: strawberry.ID) -> ContentItemType | None:
        item_id = parse_uuid_id(str(id), "ContentItem")
        if item_id is None:
            return None
        found = await fetch_items(info, [item_id])
        return wrap(found[item_id], info) if item_id in found else None

    @strawberry.field(description="个性化内容推荐：按病种与社群匹配、新鲜度和互动排序，翻页不重复")
    async def content_feed(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[ContentItemType]:
        page = await info.context.read(feed.feed_of, first=first, after=after)
        cards = iter(wrap_feed(page.items, info))
        return connection(page, lambda _: next(cards))

    @strawberry.field(description="内容搜索（支持中文分词与中英文混合），结果带高亮")
    async def content_search(
        self, info: Info, query: str, first: int | None = 20, after: str | None = None
    ) -> Connection[SearchHitType]:
        async with info.context.db.read() as session:
            viewer = await access.load_viewer(session, info.context.actor)
            page = await search.search(session, viewer, query, first=first, after=after)
        cards = await wrap_page([h.item for h in page.items], info)
        return connection(
            page, lambda h: SearchHitType(item=cards[h.item.id], title_highlight=h.title_highlight, snippet=h.snippet)
        )

    @strawberry.field(description="内容管理列表（内容运营与审核）：全部状态，最近更新在前")
    async def content_items(
        self,
        info: Info,
        status: ContentStatus | None = None,
        mine: bool = False,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[ContentItemType]:
        return await read_page(
            info,
            lambda s, a: service.staff_page(
                s, a, status=status.value if status else None, mine=mine, first=first, after=after
            ),
            lambda i: wrap(i, info),
        )

    @strawberry.field(description="单篇内容按日统计（作者、审核与管理员）")
    async def content_stats(
        self, info: Info, item_id: strawberry.ID, since: datetime | None = None
    ) -> list[DayStatsType]:
        raw = require_id(item_id, "ContentItem", "itemId")
        rows = await info.context.read(engagement.stats_by_day, raw, since=since)
        return [view(DayStatsType, r) for r in rows]

    @strawberry.field(
        description="检查工作版本的合规性（内容运营与审核）：不改变状态、不保存结果，提交审核前自查用；"
        "提交时会再检查一次并保存报告"
    )
    async def content_compliance_check(self, info: Info, item_id: strawberry.ID) -> list[FindingType]:
        raw = require_id(item_id, "ContentItem", "itemId")
        findings = await info.context.read(service.check_working, raw)
        return [FindingType.of(f) for f in findings]

    @strawberry.field(description="合规词库（内容运营、审核与管理员）")
    async def compliance_terms(self, info: Info) -> list[TermType]:
        async with info.context.db.read() as session:
            return [TermType.from_model(t) for t in await compliance.list_terms(session, info.context.actor)]
