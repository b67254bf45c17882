"""What a content card shows beyond the item row, for a page of items in one prepared statement:
the title, summary and media of the revision the viewer reads (the live one; content staff see the
working revision of an item that is not live) and the viewer's own likes and bookmarks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import rawsql

# $1 item ids, $2 the viewing patient (NULL: no reactions), $3 staff view (working revision when not live).
_CARDS_SQL = """
SELECT i.id, r.title, r.summary, r.cover_url, r.video_url,
       (SELECT array_agg(x.kind) FROM content_reactions x WHERE x.item_id = i.id AND x.patient_id = $2) AS mine
FROM content_items i
LEFT JOIN content_revisions r
       ON r.id = coalesce(i.live_revision_id, CASE WHEN $3::boolean THEN i.working_revision_id END)
WHERE i.id = ANY($1::uuid[])
"""


async def cards(
    session: AsyncSession, item_ids: Sequence[uuid.UUID], *, patient_id: uuid.UUID | None, staff: bool
) -> dict[uuid.UUID, Any]:
    """Rows by item id with title, summary, cover_url, video_url (NULL without a revision) and mine
    (the viewer's reaction kinds, NULL for none)."""
    if not item_ids:
        return {}
    rows = await rawsql.fetch(session, _CARDS_SQL, list(item_ids), patient_id, staff)
    return {r["id"]: r for r in rows}
