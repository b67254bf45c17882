"""Reading the moderation audit log, with identifying details only for those allowed to see them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from community import access
from community.models import (
    AuditEntry,
)
from core.errors import PermissionDenied
from core.identity import Actor, Role
from core.pagination import Page, keyset_page

# keys of `detail` that could lead back to an anonymous author
_IDENTIFYING_KEYS = ("membership_id",)


async def audit_page(
    session: AsyncSession,
    actor: Actor,
    *,
    group_id: uuid.UUID | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Page[AuditEntry]:
    """Newest first. Staff moderators read every group (group_id None: all); group moderators their
    group, without the emergency entries (those belong to staff and the care team)."""
    staff = access.is_staff_moderator(actor)
    if not staff:
        if group_id is None:
            actor.require_authenticated()
            raise PermissionDenied("请选择要查看的社群")
        _, m = await access.get_group(session, actor, group_id)
        if not access.can_moderate(actor, m):
            raise PermissionDenied("仅版主可以查看审核日志")
    stmt = select(AuditEntry)
    if group_id is not None:
        stmt = stmt.where(AuditEntry.group_id == group_id)
    if not staff:
        flag = AuditEntry.detail["emergency"].astext
        stmt = stmt.where(or_(flag.is_(None), flag != "true"))
    return await keyset_page(
        session, stmt, sort=AuditEntry.created_at, id_=AuditEntry.id, first=first, after=after, descending=True
    )


def visible_detail(entry: AuditEntry, actor: Actor) -> dict[str, Any]:
    """An entry's detail as a moderator may see it: for anonymous content, nothing that leads to the
    author (admins see everything)."""
    detail = dict(entry.detail or {})
    if detail.get("anonymous") and not (actor.is_staff and Role.ADMIN in actor.roles):
        for key in _IDENTIFYING_KEYS:
            detail.pop(key, None)
    return detail
