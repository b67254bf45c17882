"""imageUpload (GraphQL multipart request spec) and imageModerate."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.file_uploads import Upload

from api.context import Info
from api.error_types import MediaError
from api.media.types import ImagePurpose, ImageType
from api.mutations import mutate
from api.relay import optional_id, require_id
from core.identity import Actor
from media import errors, processing, service, urls
from media.models import Image


@strawberry.input
class ImageUploadInput:
    file: Upload = strawberry.field(
        description="图片文件：以 multipart/form-data 按 GraphQL 多部分请求规范上传（operations、map 与文件部分；"
        "浏览器请求需带 Apollo-Require-Preflight 请求头）。JPEG、PNG、WebP、GIF，不超过10MB"
    )
    purpose: ImagePurpose
    group_id: strawberry.ID | None = strawberry.field(default=None, description="帖子配图所在社群（POST 必填）")


@strawberry.input
class ImageModerateInput:
    image_id: strawberry.ID
    approve: bool = strawberry.field(description="true 通过，false 不通过")
    reason: str | None = strawberry.field(default=None, description="处理理由（写入审核日志）")


@strawberry.type
class ImagePayload:
    image: ImageType | None = None
    errors: list[MediaError]

    @classmethod
    def of(cls, value: tuple[Image, urls.Grant | None, Actor], info: Info) -> ImagePayload:
        image, grant, actor = value
        return cls(image=ImageType.of(image, grant, actor), errors=[])


async def _read(file: Any) -> tuple[bytes, str | None, str | None]:
    """The bytes of an uploaded part; its size is checked before it is read when the parser knows it."""
    if not hasattr(file, "read"):  # a string in JSON variables, not a multipart file part
        raise errors.FileRequired(field="file")
    limits = service.limits()
    size = getattr(file, "size", None)
    if isinstance(size, int):
        processing.check_size(size, limits)
    data = await file.read(limits.max_bytes + 1)
    return data, getattr(file, "filename", None), getattr(file, "content_type", None)


@strawberry.type
class MediaMutation:
    @strawberry.mutation(
        description="上传图片：按文件内容识别格式、限制大小和像素、重新编码并去除 EXIF（含位置），生成缩略图；"
        "新成员上传的图片需版主审核后他人可见"
    )
    async def image_upload(self, info: Info, input: ImageUploadInput) -> ImagePayload:
        async def work(s: AsyncSession, a: Actor) -> tuple[Image, urls.Grant | None, Actor]:
            group_id = optional_id(input.group_id, "Group", "groupId")
            data, filename, content_type = await _read(input.file)
            image = await service.upload(
                s, a, data=data, purpose=input.purpose, group_id=group_id, filename=filename, content_type=content_type
            )
            return image, (await service.grants(s, a, [image]))[image.id], a

        return await mutate(info, ImagePayload, work)

    @strawberry.mutation(description="审核图片（社群版主或员工版主）：通过或不通过，记入审核日志")
    async def image_moderate(self, info: Info, input: ImageModerateInput) -> ImagePayload:
        async def work(s: AsyncSession, a: Actor) -> tuple[Image, urls.Grant | None, Actor]:
            image_id = require_id(input.image_id, "Image", "imageId")
            image = await service.moderate(s, a, image_id, approve=input.approve, reason=input.reason)
            return image, (await service.grants(s, a, [image]))[image.id], a

        return await mutate(info, ImagePayload, work)
