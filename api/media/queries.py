"""heldImages: the moderators' list of images waiting for a decision."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.media.types import ImageType
from api.relay import Connection, connection, optional_id
from media import service


@strawberry.type
class MediaQuery:
    @strawberry.field(
        description="待审核的图片（新成员上传），新上传的在前：员工版主可看全部或指定社群，社群版主看本群"
    )
    async def held_images(
        self, info: Info, group_id: strawberry.ID | None = None, first: int | None = 20, after: str | None = None
    ) -> Connection[ImageType]:
        group = optional_id(group_id, "Group", "groupId")
        actor = info.context.actor
        async with info.context.db.read() as session:
            page = await service.held_page(session, actor, group_id=group, first=first, after=after)
            grants = await service.grants(session, actor, page.items)
        return connection(page, lambda i: ImageType.of(i, grants.get(i.id), actor))
