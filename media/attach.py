"""Attaching uploaded images to a post (called by community.posts.create_post in its unit of work).

Apart from media/service.py on purpose: community imports this module, and this module imports
nothing of community, so the two domains never import each other in a circle.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from media import errors
from media.models import Image, ImagePurpose, ImageStatus

FIELD = "imageIds"


async def attach_to_post(
    session: AsyncSession,
    *,
    owner: tuple[str, uuid.UUID],
    group_id: uuid.UUID,
    post_id: uuid.UUID,
    image_ids: Sequence[uuid.UUID],
) -> list[Image]:
    """The images, in the given order (a repeated id counts once), attached to the post: each must be
    the author's own post image uploaded into the same group, not rejected and on no other post. A held
    image may be attached: it shows once a moderator approves it."""
    ordered = list(dict.fromkeys(image_ids))
    if not ordered:
        return []
    # Locked, so two posts created at once cannot both take the same image.
    rows = await session.scalars(select(Image).where(Image.id.in_(ordered)).order_by(Image.id).with_for_update())
    found = {r.id: r for r in rows}
    images: list[Image] = []
    for position, image_id in enumerate(ordered):
        image = found.get(image_id)
        if image is None or (image.owner_kind, image.owner_id) != owner:
            raise errors.ImageNotFound(field=FIELD)
        if image.purpose != ImagePurpose.POST:
            raise errors.ImageWrongPurpose(field=FIELD)
        if image.status == ImageStatus.REJECTED:
            raise errors.ImageRejected(field=FIELD)
        if image.post_id is not None and image.post_id != post_id:
            raise errors.ImageInUse(field=FIELD)
        if image.group_id != group_id:
            raise errors.ImageWrongGroup(field=FIELD)
        image.post_id = post_id
        image.position = position
        images.append(image)
    return images
