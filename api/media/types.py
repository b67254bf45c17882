"""The GraphQL view of images: dimensions, status and signed URLs (media/urls.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.context import Info
from api.relay import Node, node_fetcher, raw_uuids
from api.views import node_view
from core import clock
from core.identity import Actor
from media import service, urls
from media.models import Image, ImagePurpose, ImageStatus

strawberry.enum(ImagePurpose, name="ImagePurpose", description="图片用途：POST 帖子配图（需指定社群），AVATAR 头像")
strawberry.enum(
    ImageStatus,
    name="ImageStatus",
    description="HELD 新成员上传、待版主审核（仅本人和版主可见）；APPROVED 已通过；REJECTED 未通过（仅版主可见）",
)
ImageVariant = urls.Variant
strawberry.enum(ImageVariant, name="ImageVariant", description="ORIGINAL 原图（长边不超过2560像素），THUMBNAIL 缩略图")


@strawberry.type(name="Image", description="上传的图片：已重新编码，不含 EXIF（位置等）信息")
class ImageType(Node):
    model: strawberry.Private[Image]
    grant: strawberry.Private[urls.Grant | None]

    purpose: ImagePurpose
    status: ImageStatus
    width: int
    height: int
    byte_size: int = strawberry.field(description="原图字节数")
    thumbnail_width: int
    thumbnail_height: int
    content_type: str = strawberry.field(description="image/jpeg，透明图为 image/webp")
    created_at: datetime
    mine: bool = strawberry.field(description="是否为我上传的")

    @classmethod
    def of(cls, image: Image, grant: urls.Grant | None, actor: Actor) -> ImageType:
        return node_view(
            cls,
            image,
            grant=grant,
            purpose=ImagePurpose(image.purpose),
            status=ImageStatus(image.status),
            mine=service.is_owner(actor, image),
        )

    @strawberry.field(
        description="带签名、会过期的图片地址（社群仅成员可见时只对本人有效、时效较短）；无权查看图片内容时为 null"
    )
    def url(self, variant: ImageVariant = ImageVariant.ORIGINAL) -> str | None:
        if self.grant is None:
            return None
        return urls.url_for(self.model.id, variant, self.grant, clock.now())


def viewer_images(info: Info, images: Sequence[Image], grants: dict[uuid.UUID, urls.Grant | None]) -> list[ImageType]:
    """The images the viewer may know of (a grant, or their own: the owner sees a rejection)."""
    actor = info.context.actor
    return [
        ImageType.of(i, grants.get(i.id), actor)
        for i in images
        if grants.get(i.id) is not None or service.is_owner(actor, i)
    ]


def _post_images(actor: Actor) -> Any:
    async def load(session: AsyncSession, post_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
        by_post = await service.images_of_posts(session, post_ids)
        grants = await service.grants(session, actor, [i for images in by_post.values() for i in images])
        return {p: [(i, grants.get(i.id)) for i in images] for p, images in by_post.items()}

    return load


async def post_images(info: Info, post_id: uuid.UUID) -> list[ImageType]:
    """A post's uploaded images for `Post.imageList`: one batch for the whole page of posts (three
    statements), each image with the viewer's grant; held ones only for their owner and moderators."""
    cache = info.context.__dict__.setdefault("_viewer_loaders", {})
    if "post_images" not in cache:
        cache["post_images"] = _post_images(info.context.actor)
    pairs = await info.context.loaders.get(cache["post_images"], many=True).load(post_id)
    actor = info.context.actor
    return [ImageType.of(i, g, actor) for i, g in pairs if g is not None]


@node_fetcher("Image")
async def _fetch_images(info: Info, raw: Sequence[str]) -> list[Any]:
    ids = [i for i in raw_uuids(raw) if i is not None]
    async with info.context.db.read() as session:
        found = await service.images_by_ids(session, ids)
        grants = await service.grants(session, info.context.actor, list(found.values()))
    actor = info.context.actor
    out: list[Any] = []
    for i in raw_uuids(raw):
        image = found.get(i) if i is not None else None
        visible = image is not None and (grants.get(image.id) is not None or service.is_owner(actor, image))
        out.append(ImageType.of(image, grants.get(image.id), actor) if image is not None and visible else None)
    return out
