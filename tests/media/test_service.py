"""The image rules without HTTP (media/service.py, media/attach.py): held for new members, who sees
what, moderation with its audit entry, attaching to posts, the upload limit."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from community import groups, posts
from community.models import AuditEntry, Post
from core import clock
from core.db import unit_of_work
from core.errors import DomainError
from core.identity import ANONYMOUS, Actor, Role
from media import service, urls
from media.config import reset_media_settings
from media.models import Image, ImagePurpose, ImageStatus
from patients.models import Patient
from tests.factories import MODERATOR, as_patient, make_group, member_of, new_member, staff
from tests.media import images


async def _upload(actor: Actor, purpose: ImagePurpose = ImagePurpose.POST, group_id: uuid.UUID | None = None) -> Image:
    async with unit_of_work() as session:
        return await service.upload(session, actor, data=images.photo(), purpose=purpose, group_id=group_id)


async def _refused(code: str, actor: Actor, purpose: ImagePurpose, group_id: uuid.UUID | None) -> None:
    with pytest.raises(DomainError) as refused:
        await _upload(actor, purpose, group_id)
    assert refused.value.code == code


async def _veteran_account(patient_id: uuid.UUID) -> None:
    async with unit_of_work() as session:
        await session.execute(
            update(Patient).where(Patient.id == patient_id).values(created_at=clock.now() - timedelta(days=30))
        )


async def _grant(actor: Actor, image: Image) -> urls.Grant | None:
    async with unit_of_work() as session:
        found = await session.get(Image, image.id)
        assert found is not None
        return (await service.grants(session, actor, [found]))[image.id]


async def test_images_of_new_members_are_held_and_others_approved(media_dir: Path):
    group = await make_group()
    veteran = as_patient(await member_of(group))
    newcomer = as_patient(await member_of(group, veteran=False))
    kept = await _upload(veteran, group_id=group)
    assert kept.status == ImageStatus.APPROVED and kept.owner_kind == "patient"
    assert (media_dir / kept.storage_key).is_file() and (media_dir / kept.thumbnail_key).is_file()
    assert kept.storage_key.startswith(f"images/{clock.now():%Y/%m}/{kept.id}")
    assert (await _upload(newcomer, group_id=group)).status == ImageStatus.HELD
    doctor = staff(Role.DOCTOR)
    async with unit_of_work() as session:
        await groups.join(session, doctor, group)  # joined a moment ago, but staff are trusted
    assert (await _upload(doctor, group_id=group)).status == ImageStatus.APPROVED
    # An avatar: the account's age decides (a new account's avatar is a classic spam vector).
    fresh = as_patient(await new_member())
    assert (await _upload(fresh, ImagePurpose.AVATAR)).status == ImageStatus.HELD
    await _veteran_account(fresh.id)  # type: ignore[arg-type]
    assert (await _upload(fresh, ImagePurpose.AVATAR)).status == ImageStatus.APPROVED


async def test_who_may_upload_where():
    group = await make_group()
    outsider = as_patient(await new_member())
    member = as_patient(await member_of(group))
    await _refused("NOT_A_MEMBER", outsider, ImagePurpose.POST, group)
    await _refused("MEDIA_GROUP_REQUIRED", member, ImagePurpose.POST, None)
    await _refused("MEDIA_GROUP_NOT_ALLOWED", member, ImagePurpose.AVATAR, group)
    await _refused("NOT_AUTHENTICATED", ANONYMOUS, ImagePurpose.AVATAR, None)
    await _refused("GROUP_NOT_FOUND", member, ImagePurpose.POST, uuid.uuid4())
    async with unit_of_work() as session:
        assert (await session.scalars(select(Image))).all() == []  # nothing half-written


async def test_held_images_are_seen_by_their_owner_and_moderators_only():
    group = await make_group(visibility="members")
    owner = as_patient(await member_of(group, veteran=False))
    other = as_patient(await member_of(group))
    group_moderator = as_patient(await member_of(group))
    async with unit_of_work() as session:
        await groups.set_role(
            session, MODERATOR, group, account_kind="patient", account_id=group_moderator.id, role="moderator"
        )  # type: ignore[arg-type]
    held = await _upload(owner, group_id=group)
    assert held.status == ImageStatus.HELD
    mine = await _grant(owner, held)
    assert mine is not None and mine.role is urls.GrantRole.OWNER and mine.viewer
    assert await _grant(other, held) is None
    assert await _grant(ANONYMOUS, held) is None
    for moderator in (group_moderator, staff(Role.MODERATOR)):
        grant = await _grant(moderator, held)
        assert grant is not None and grant.role is urls.GrantRole.MODERATOR
    # Approved: every reader of this members-only group, each through a URL bound to them.
    async with unit_of_work() as session:
        await service.moderate(session, staff(Role.MODERATOR), held.id, approve=True)
    grant = await _grant(other, held)
    assert grant is not None and grant.role is urls.GrantRole.READER and grant.viewer != mine.viewer
    assert await _grant(as_patient(await new_member()), held) is None  # not a member: nothing
    assert await _grant(ANONYMOUS, held) is None


async def test_images_of_public_groups_and_approved_avatars_are_for_anyone():
    group = await make_group(visibility="public")
    image = await _upload(as_patient(await member_of(group)), group_id=group)
    assert await _grant(ANONYMOUS, image) == urls.PUBLIC
    patient = await new_member()
    await _veteran_account(patient)
    avatar = await _upload(as_patient(patient), ImagePurpose.AVATAR)
    assert await _grant(ANONYMOUS, avatar) == urls.PUBLIC


async def test_moderation_is_for_moderators_and_every_decision_is_audited():
    group = await make_group(visibility="private")
    owner = as_patient(await member_of(group, veteran=False))
    held = await _upload(owner, group_id=group)
    for actor, code in ((owner, "PERMISSION_DENIED"), (as_patient(await member_of(group)), "IMAGE_NOT_FOUND")):
        with pytest.raises(DomainError) as refused:
            async with unit_of_work() as session:
                await service.moderate(session, actor, held.id, approve=True)
        assert refused.value.code == code
    moderator = staff(Role.MODERATOR)
    async with unit_of_work() as session:
        rejected = await service.moderate(session, moderator, held.id, approve=False, reason="含有他人病历")
        assert rejected.status == ImageStatus.REJECTED and rejected.decided_by == moderator.id
    assert await _grant(owner, held) is None  # the owner no longer sees the picture
    async with unit_of_work() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.target_id == held.id))
    assert entry is not None and entry.action == "image_reject" and entry.target_kind == "image"
    assert entry.group_id == group and entry.reason == "含有他人病历" and entry.actor_id == moderator.id
    assert entry.detail == {"from": "held", "to": "rejected", "purpose": "post"}  # nothing names the owner
    assert str(owner.id) not in str(entry.detail)


async def _create_post(actor: Actor, group: uuid.UUID, image_ids: list[uuid.UUID], urls_: int = 0) -> Post:
    async with unit_of_work() as session:
        created = await posts.create_post(
            session,
            actor,
            group_id=group,
            kind="discussion",
            title="今天的早餐",
            body="燕麦和鸡蛋",
            image_urls=[f"https://img.example.cn/{i}.jpg" for i in range(urls_)],
            image_ids=image_ids,
        )
        assert isinstance(created.item, Post)
        return created.item


async def _post_refused(code: str, actor: Actor, group: uuid.UUID, image_ids: list[uuid.UUID], urls_: int = 0) -> None:
    with pytest.raises(DomainError) as refused:
        await _create_post(actor, group, image_ids, urls_)
    assert refused.value.code == code or code in [i.code for i in refused.value.issues]


async def test_a_post_takes_its_authors_own_images_of_the_same_group_in_order():
    group, elsewhere = await make_group(), await make_group()
    author = as_patient(await member_of(group))
    await member_of(elsewhere, author.id)
    first, second = await _upload(author, group_id=group), await _upload(author, group_id=group)
    post = await _create_post(author, group, [second.id, first.id, second.id])
    async with unit_of_work() as session:
        attached = (await service.images_of_posts(session, [post.id]))[post.id]
    assert [(i.id, i.position) for i in attached] == [(second.id, 0), (first.id, 1)]

    someone = as_patient(await member_of(group))
    theirs = await _upload(someone, group_id=group)
    await _post_refused("IMAGE_NOT_FOUND", author, group, [theirs.id])
    await _post_refused("IMAGE_IN_USE", author, group, [first.id])
    await _post_refused("IMAGE_WRONG_GROUP", author, group, [await _id(author, elsewhere)])
    await _veteran_account(author.id)  # type: ignore[arg-type]
    avatar = await _upload(author, ImagePurpose.AVATAR)
    await _post_refused("IMAGE_WRONG_PURPOSE", author, group, [avatar.id])
    bad = await _upload(author, group_id=group)
    async with unit_of_work() as session:
        await service.moderate(session, staff(Role.MODERATOR), bad.id, approve=False)
    await _post_refused("IMAGE_REJECTED", author, group, [bad.id])
    fresh = await _upload(author, group_id=group)
    await _post_refused("TOO_MANY_IMAGES", author, group, [fresh.id], urls_=9)
    async with unit_of_work() as session:  # the refused posts were rolled back, images untouched
        count = len((await session.scalars(select(Post).where(Post.group_id == group))).all())
        assert count == 1 and (await session.get(Image, fresh.id)).post_id is None  # type: ignore[union-attr]


async def _id(actor: Actor, group: uuid.UUID) -> uuid.UUID:
    return (await _upload(actor, group_id=group)).id


async def test_uploads_per_hour_are_limited_per_account(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PORTAL_MEDIA_UPLOADS_PER_HOUR", "2")
    reset_media_settings()
    patient = as_patient(await new_member())
    await _upload(patient, ImagePurpose.AVATAR)
    await _upload(patient, ImagePurpose.AVATAR)
    await _refused("RATE_LIMITED", patient, ImagePurpose.AVATAR, None)
    await _upload(as_patient(await new_member()), ImagePurpose.AVATAR)  # another account is not limited


async def test_an_accounts_images_are_erased_rows_and_files(media_dir: Path):
    patient = await new_member()
    await _veteran_account(patient)
    kept = await _upload(as_patient(await new_member()), ImagePurpose.AVATAR)
    first = await _upload(as_patient(patient), ImagePurpose.AVATAR)
    second = await _upload(as_patient(patient), ImagePurpose.AVATAR)
    files = [media_dir / k for i in (first, second) for k in (i.storage_key, i.thumbnail_key)]
    assert all(f.is_file() for f in files)
    with pytest.raises(RuntimeError):  # rolled back: rows and files stay
        async with unit_of_work() as session:
            assert await service.erase_images_of(session, "patient", patient) == 2
            raise RuntimeError("the erasure's transaction fails")
    assert all(f.is_file() for f in files)
    async with unit_of_work() as session:
        assert await service.erase_images_of(session, "patient", patient) == 2
    assert not any(f.exists() for f in files)
    assert (media_dir / kept.storage_key).is_file()  # someone else's stay
    async with unit_of_work() as session:
        assert await service.erase_images_of(session, "patient", patient) == 0  # again: nothing left
        assert [i.id for i in await session.scalars(select(Image))] == [kept.id]
