"""Images: upload, who sees what, moderation of held images.

Upload (`upload`), in the order that keeps the expensive steps bounded:
1. signed-in patients and staff only; a post image names its group, an avatar names none;
2. at most PORTAL_MEDIA_UPLOADS_PER_HOUR attempts per account (refused ones count: they cost CPU too);
3. sniffing, limits and re-encoding on the CPU pool (media/processing.py), before the unit of work
   has touched the database, so no pooled connection waits for Pillow;
4. the group's participation rule (community.access: an active member, not muted or banned);
5. the status: images by new members are HELD (see `initial_status`), others APPROVED;
6. the row, then the two files in storage; a failure rolls the row back (a file orphaned by a failed
   commit is never referenced, so never served).

Who sees an image (`grant_for`, called where a GraphQL field hands out a URL, after the community's
read check for the group or post the image belongs to):
- APPROVED: an avatar everyone; a post image whoever may read its group: in a public group through a
  URL anyone may use, in a members-only, private or secret group through a URL bound to the viewer;
- HELD: its owner and the moderators (staff moderators, the group's moderators and owner);
- REJECTED: the moderators only (the owner sees that it was rejected, not the picture).

Moderation (`moderate`): a moderator approves or rejects; each decision goes to the community's
append-only audit log (target kind `image`), without the owner's identity (an anonymous author's
images must not name them to group moderators).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from community import access, audit, groups, moderation
from community.models import GroupVisibility, MemberRole
from core import clock, cpu, ratelimit
from core.db import after_commit
from core.errors import PermissionDenied, RateLimited
from core.identity import Actor
from core.ids import new_id
from core.pagination import Page, keyset_page
from media import errors, processing, urls
from media.config import get_media_settings
from media.models import Image, ImagePurpose, ImageStatus
from media.storage import Storage, get_storage
from patients import queries as patient_queries

UPLOADS = ratelimit.Window("media_uploads", limit=60, seconds=3600)


def limits() -> processing.Limits:
    s = get_media_settings()
    return processing.Limits(
        max_bytes=s.max_bytes,
        max_pixels=s.max_pixels,
        max_side=s.max_side,
        thumbnail_side=s.thumbnail_side,
        quality=s.quality,
    )


def keys_for(image_id: uuid.UUID, extension: str, now: datetime) -> tuple[str, str]:
    """Storage keys of the original and the thumbnail (by month, so no directory grows without end)."""
    base = f"images/{now:%Y/%m}/{image_id}"
    return f"{base}.{extension}", f"{base}-thumb.{extension}"


async def upload(
    session: AsyncSession,
    actor: Actor,
    *,
    data: bytes,
    purpose: ImagePurpose,
    group_id: uuid.UUID | None = None,
    filename: str | None = None,
    content_type: str | None = None,
    storage: Storage | None = None,
) -> Image:
    """A new image from uploaded bytes (see the module's docstring for the steps and their order)."""
    owner_kind, owner_id = access.account_of(actor)  # NotAuthenticated for anyone not signed in
    if purpose is ImagePurpose.POST and group_id is None:
        raise errors.GroupRequired(field="groupId")
    if purpose is ImagePurpose.AVATAR and group_id is not None:
        raise errors.GroupNotAllowed(field="groupId")
    processing.check_size(len(data), limits())
    window = ratelimit.Window(UPLOADS.name, get_media_settings().uploads_per_hour, UPLOADS.seconds)
    if await ratelimit.hit(window, ratelimit.subject_of(owner_kind, str(owner_id))) > window.limit:
        raise RateLimited("上传图片过于频繁，请稍后再试")
    processed = await cpu.run(processing.process, data, limits(), filename=filename, content_type=content_type)
    status = await initial_status(session, actor, purpose=purpose, group_id=group_id)
    now = clock.now()
    image_id = new_id()
    key, thumbnail_key = keys_for(image_id, processed.extension, now)
    image = Image(
        id=image_id,
        owner_kind=owner_kind,
        owner_id=owner_id,
        purpose=purpose.value,
        group_id=group_id,
        storage_key=key,
        thumbnail_key=thumbnail_key,
        content_type=processed.content_type,
        width=processed.original.width,
        height=processed.original.height,
        byte_size=len(processed.original.data),
        thumbnail_width=processed.thumbnail.width,
        thumbnail_height=processed.thumbnail.height,
        thumbnail_byte_size=len(processed.thumbnail.data),
        status=status.value,
        created_at=now,
    )
    session.add(image)
    await session.flush()
    store = storage or get_storage()
    await store.put(key, processed.original.data, processed.content_type)
    await store.put(thumbnail_key, processed.thumbnail.data, processed.content_type)
    return image


def _is_new(since: datetime | None, now: datetime) -> bool:
    return since is None or since > now - timedelta(days=moderation.NEW_MEMBER_DAYS)


async def initial_status(
    session: AsyncSession, actor: Actor, *, purpose: ImagePurpose, group_id: uuid.UUID | None
) -> ImageStatus:
    """HELD for new members, by the community's rule (NEW_MEMBER_DAYS): a post image when its owner
    joined the group less than that long ago, an avatar when the account is that new; staff and the
    group's experts, moderators and owner are trusted. Checks that the owner may post in the group."""
    if purpose is ImagePurpose.POST:
        assert group_id is not None
        _, member = await access.require_participant(session, actor, group_id)
        if actor.is_staff or member.role != MemberRole.MEMBER:
            return ImageStatus.APPROVED
        return ImageStatus.HELD if _is_new(member.joined_at, clock.now()) else ImageStatus.APPROVED
    if actor.is_staff or actor.id is None:
        return ImageStatus.APPROVED
    patient = (await patient_queries.patients_by_ids(session, [actor.id])).get(actor.id)
    joined = patient.created_at if patient is not None else None
    return ImageStatus.HELD if _is_new(joined, clock.now()) else ImageStatus.APPROVED


def is_owner(actor: Actor, image: Image) -> bool:
    kind, account_id = access.viewer_account(actor)
    return account_id is not None and (kind, account_id) == (image.owner_kind, image.owner_id)


def grant_for(actor: Actor, image: Image, *, reader: bool, moderator: bool, public_group: bool) -> urls.Grant | None:
    """The URL grant this viewer gets for `image`, or None when they may not see it. `reader`: the
    community lets the viewer read the image's group's posts (always for an image of no group);
    `moderator`: the viewer moderates that group (`moderates`); `public_group`: anyone reads it."""
    kind, account_id = access.viewer_account(actor)
    bound = urls.viewer_tag(kind, account_id) if kind is not None and account_id is not None else ""
    if image.status == ImageStatus.APPROVED:
        if image.group_id is None or public_group:
            return urls.PUBLIC
        return urls.Grant(viewer=bound) if bound and (reader or moderator) else None
    if moderator and bound:
        return urls.Grant(viewer=bound, role=urls.GrantRole.MODERATOR)
    if image.status == ImageStatus.HELD and is_owner(actor, image):
        return urls.Grant(viewer=bound, role=urls.GrantRole.OWNER)
    return None


async def grants(session: AsyncSession, actor: Actor, images: Sequence[Image]) -> dict[uuid.UUID, urls.Grant | None]:
    """`grant_for` each image, by the community's read rule for its group (community.access): the one
    access check every GraphQL field that hands out image URLs goes through. Two statements for any
    number of images (their groups, the viewer's memberships)."""
    group_ids = list({i.group_id for i in images if i.group_id is not None})
    found = await groups.groups_by_ids(session, group_ids) if group_ids else {}
    members = await access.memberships_of(session, actor, group_ids)
    staff_moderator = access.is_staff_moderator(actor)
    out: dict[uuid.UUID, urls.Grant | None] = {}
    for image in images:
        group = found.get(image.group_id) if image.group_id is not None else None
        member = members.get(image.group_id) if image.group_id is not None else None
        if image.group_id is not None and (group is None or not access.can_see_group(actor, group, member)):
            out[image.id] = None
            continue
        out[image.id] = grant_for(
            actor,
            image,
            reader=group is None or access.can_read_posts(actor, group, member),
            moderator=staff_moderator or access.can_moderate(actor, member),
            public_group=group is not None and group.visibility == GroupVisibility.PUBLIC,
        )
    return out


async def moderates(
    session: AsyncSession, actor: Actor, group_ids: Sequence[uuid.UUID | None]
) -> dict[uuid.UUID | None, bool]:
    """Whether the viewer moderates images of each group (None: images of no group, staff moderators)."""
    staff = access.is_staff_moderator(actor)
    wanted = [g for g in set(group_ids) if g is not None]
    members = await access.memberships_of(session, actor, wanted) if wanted and not staff else {}
    out: dict[uuid.UUID | None, bool] = {g: staff or access.can_moderate(actor, members.get(g)) for g in wanted}
    out[None] = staff
    return out


async def moderate(
    session: AsyncSession, actor: Actor, image_id: uuid.UUID, *, approve: bool, reason: str | None = None
) -> Image:
    """A moderator approves or rejects an image (held, or approved before and taken down); audited."""
    actor.require_authenticated()
    image = await session.get(Image, image_id, with_for_update=True)
    if image is None:
        raise errors.ImageNotFound(field="imageId")
    if not (await moderates(session, actor, [image.group_id])).get(image.group_id):
        if is_owner(actor, image):
            raise PermissionDenied("不能审核自己上传的图片")
        raise errors.ImageNotFound(field="imageId")  # no hint that someone else's image exists
    before = image.status
    image.status = (ImageStatus.APPROVED if approve else ImageStatus.REJECTED).value
    image.decided_by = actor.id
    image.decided_at = clock.now()
    await audit.record(
        session,
        actor,
        "image_approve" if approve else "image_reject",
        target_kind="image",
        target_id=image.id,
        group_id=image.group_id,
        reason=reason,
        detail={"from": before, "to": image.status, "purpose": image.purpose},
    )
    return image


async def held_page(
    session: AsyncSession,
    actor: Actor,
    *,
    group_id: uuid.UUID | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Page[Image]:
    """Held images, newest first: staff moderators see every group's (and avatars) or one group's;
    a group's moderators their group's."""
    actor.require_authenticated()
    if not access.is_staff_moderator(actor):
        if group_id is None:
            raise PermissionDenied("请选择要审核的社群")
        _, member = await access.get_group(session, actor, group_id)
        if not access.can_moderate(actor, member):
            raise PermissionDenied("仅版主可以审核图片")
    stmt = select(Image).where(Image.status == ImageStatus.HELD)
    if group_id is not None:
        stmt = stmt.where(Image.group_id == group_id)
    return await keyset_page(
        session, stmt, sort=Image.created_at, id_=Image.id, first=first, after=after, descending=True
    )


async def images_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Image]:
    return {i.id: i for i in await session.scalars(select(Image).where(Image.id.in_(ids)))}


async def images_of_posts(session: AsyncSession, post_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Image]]:
    """The images attached to each post, in the order the author gave."""
    rows = await session.scalars(
        select(Image).where(Image.post_id.in_(post_ids)).order_by(Image.post_id, Image.position)
    )
    out: dict[uuid.UUID, list[Image]] = {}
    for row in rows:
        assert row.post_id is not None
        out.setdefault(row.post_id, []).append(row)
    return out


async def erase_images_of(
    session: AsyncSession, owner_kind: str, owner_id: uuid.UUID, *, storage: Storage | None = None
) -> int:
    """Every image of an account gone (a patient's erasure, PIPL art. 47): the rows now, the files once
    the transaction has committed (a rollback keeps both). Safe to run again. Returns how many."""
    rows = (
        await session.scalars(
            delete(Image).where(Image.owner_kind == owner_kind, Image.owner_id == owner_id).returning(Image)
        )
    ).all()
    keys = [k for image in rows for k in (image.storage_key, image.thumbnail_key)]
    if keys:
        store = storage or get_storage()

        async def remove_files() -> None:
            for key in keys:
                await store.delete(key)

        after_commit(session, remove_files)
    return len(rows)


@dataclass(frozen=True)
class ToServe:
    key: str
    content_type: str
    public: bool  # the URL was for anyone (caches may keep it), not for one viewer


async def to_serve(session: AsyncSession, verified: urls.Verified) -> ToServe:
    """What a verified URL serves now: the image's current status must still allow the URL's grant
    (a rejection stops readers' URLs at once); anything else is IMAGE_NOT_FOUND."""
    image = await session.get(Image, verified.image_id)
    if image is None:
        raise errors.ImageNotFound()
    role = verified.grant.role
    allowed = (
        image.status == ImageStatus.APPROVED
        or (image.status == ImageStatus.HELD and role in (urls.GrantRole.OWNER, urls.GrantRole.MODERATOR))
        or (image.status == ImageStatus.REJECTED and role is urls.GrantRole.MODERATOR)
    )
    if not allowed:
        raise errors.ImageNotFound()
    key = image.thumbnail_key if verified.variant is urls.Variant.THUMBNAIL else image.storage_key
    return ToServe(key=key, content_type=image.content_type, public=not verified.grant.viewer)
