"""The journeys as staff read them: each with its trigger, steps and message; marketing staff only; the
day campaigns of one journey listed apart from the others, newest first."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from campaigns import journeys, service
from core import clock
from core.db import unit_of_work
from core.errors import DomainError, PermissionDenied
from core.identity import Role
from tests.campaigns.support import MARKETER, REVIEWER, approved_campaign, make_patient
from tests.factories import as_patient, staff
from tests.loyalty.support import record_visit

NOON = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


def test_every_journey_has_a_trigger_and_its_steps_in_words():
    listed = journeys.catalogue(REVIEWER)
    assert [j.code for j in listed] == list(journeys.JOURNEYS)
    for journey in listed:
        trigger = journeys.trigger_of(journey)
        steps = journeys.steps_of(journey)
        assert trigger and "{" not in trigger
        assert steps[0] == f"触发：{trigger}" and steps[-1].startswith(f"发送：{journey.subject}")
        assert any(step.startswith("渠道：") for step in steps)
    reactivation = journeys.steps_of(journeys.JOURNEYS["reactivation"])
    assert "30天内" in reactivation[0] and "站内信 → 微信 → 短信" in reactivation[2]
    assert (
        "营销用途授权" in reactivation[3] and "服务用途授权" in journeys.steps_of(journeys.JOURNEYS["follow_up_7"])[3]
    )


def test_only_marketing_staff_read_the_journeys():
    for outsider in (staff(Role.CLINIC_STAFF), staff(Role.DOCTOR), as_patient(uuid.uuid4())):
        with pytest.raises(PermissionDenied):
            journeys.catalogue(outsider)
    assert journeys.catalogue(staff(Role.ADMIN))


async def test_the_campaigns_of_one_journey_newest_first():
    clock.clock.freeze(NOON)
    visited = await make_patient()
    await record_visit(visited, "j-visit-1", visited_at=NOON - timedelta(days=7, hours=1))
    await make_patient(birth_date=date(1980, 6, 15), consents=[("in_app", "marketing")])
    plain = await approved_campaign()
    assert await journeys.run_journey("follow_up_7") == 1
    assert await journeys.run_journey("birthday") == 1
    clock.clock.advance(timedelta(days=1))
    await record_visit(visited, "j-visit-2", visited_at=NOON - timedelta(days=6, hours=1))
    assert await journeys.run_journey("follow_up_7") == 1

    async with unit_of_work() as session:
        follow_ups = await service.campaigns_page(
            session, MARKETER, status=None, first=10, after=None, journey="follow_up_7"
        )
        birthdays = await service.campaigns_page(
            session, REVIEWER, status=None, first=10, after=None, journey="birthday"
        )
        everything = await service.campaigns_page(session, MARKETER, status=None, first=10, after=None)
    assert [c.journey_key for c in follow_ups.items] == ["follow_up_7:2026-06-16", "follow_up_7:2026-06-15"]
    assert [c.journey_key for c in birthdays.items] == ["birthday:2026-06-15"]
    assert plain in {c.id for c in everything.items} and len(everything.items) == 4

    for unknown in ("nope", "follow_up_%", "", "follow_up_7:2026"):
        with pytest.raises(DomainError) as caught:
            async with unit_of_work() as session:
                await service.campaigns_page(session, MARKETER, status=None, first=10, after=None, journey=unknown)
        assert caught.value.code == "JOURNEY_UNKNOWN"
