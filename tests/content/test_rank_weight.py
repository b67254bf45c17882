"""The feed's ranking weight counts a patient's engagement once per kind, item and day (issue 13.4): one
patient sharing an article twenty times, at once or one after another, or liking it on and off, moves
it as much as one share or one like. The counters still count every event. Through the real schema."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from api.relay import to_global_id
from content.engagement import WEIGHTS
from content.models import ContentItem, EngagementKind
from core import clock
from core.db import unit_of_work
from tests.content.support import publish
from tests.factories import next_phone
from tests.support import data, gql, patient_session

SHARE = """mutation($id: ID!) { contentEngage(input: {itemId: $id, kind: SHARE}) { errors { code } } }"""
LIKE = """mutation($id: ID!, $on: Boolean!) { contentReact(input: {itemId: $id, kind: LIKE, on: $on}) {
  errors { code } } }"""


async def _item(item_id: Any) -> ContentItem:
    async with unit_of_work() as session:
        item = await session.scalar(select(ContentItem).where(ContentItem.id == item_id))
        assert item is not None
        return item


async def test_twenty_shares_by_one_patient_rank_as_one_per_day(client: Any) -> None:
    item_id = await publish()
    gid = to_global_id("ContentItem", item_id)
    phone = next_phone()
    patient = await patient_session(client, phone)
    before = (await _item(item_id)).engagement_weight
    answers = await asyncio.gather(*(gql(client, SHARE, {"id": gid}, token=patient.access) for _ in range(10)))
    for _ in range(10):
        answers.append(await gql(client, SHARE, {"id": gid}, token=patient.access))
    assert all(data(a)["contentEngage"]["errors"] == [] for a in answers)
    item = await _item(item_id)
    assert item.share_count == 20
    assert item.engagement_weight == before + WEIGHTS[EngagementKind.SHARE]
    clock.clock.advance(timedelta(days=1))  # a new day counts again
    patient = await patient_session(client, phone)  # the access token of yesterday has expired
    assert data(await gql(client, SHARE, {"id": gid}, token=patient.access))["contentEngage"]["errors"] == []
    assert (await _item(item_id)).engagement_weight == before + 2 * WEIGHTS[EngagementKind.SHARE]


async def test_liking_on_and_off_ranks_once_and_other_patients_count(client: Any) -> None:
    item_id = await publish()
    gid = to_global_id("ContentItem", item_id)
    one = await patient_session(client, next_phone())
    before = (await _item(item_id)).engagement_weight
    for on in (True, False, True, False, True):
        assert data(await gql(client, LIKE, {"id": gid, "on": on}, token=one.access))["contentReact"]["errors"] == []
    item = await _item(item_id)
    assert item.like_count == 1
    assert item.engagement_weight == before + WEIGHTS[EngagementKind.LIKE]
    other = await patient_session(client, next_phone())
    data(await gql(client, LIKE, {"id": gid, "on": True}, token=other.access))
    assert (await _item(item_id)).engagement_weight == before + 2 * WEIGHTS[EngagementKind.LIKE]
