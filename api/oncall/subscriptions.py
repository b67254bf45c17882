"""Live page inbox: each new page (or escalation reaching me), re-read and re-checked per event."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from api.context import Info
from api.live import announced, one_of
from api.oncall.types import StaffPageType
from oncall import service


@strawberry.type
class OncallSubscription:
    @strawberry.subscription(description="推送给我的新值班提醒（仅限工作人员本人）")
    async def my_pages(self, info: Info) -> AsyncGenerator[StaffPageType, None]:
        channel = service.staff_channel(service.inbox_owner(info.context.actor))
        async for page in announced(
            info, channel, "page_id", one_of(service.my_pages_by_ids), StaffPageType.from_model
        ):
            yield page
