"""Consent evidence in the domain: every answer records the notice version, the hash of its text and
where it came from; a new notice version asks again for the purposes it changes and, for marketing,
a stale grant stops counting until reconfirmed; the history is the patient's and the admins'."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from core.db import unit_of_work
from core.errors import DomainError, PermissionDenied
from core.identity import SYSTEM, Role
from messaging import outreach
from patients import consents, service
from patients.models import Consent, ConsentEvent, ConsentNotice
from patients.notices import DEFAULT_NOTICES
from tests.factories import as_patient, new_member, staff

ADMIN = staff(Role.ADMIN)
SERVICE_V, MARKETING_V, SENSITIVE_V = (version for version, *_ in DEFAULT_NOTICES)


def change(channel: str, purpose: str, granted: bool = True, version: int | None = None) -> service.ConsentChange:
    return service.ConsentChange(channel, purpose, granted, notice_version=version)


async def answer(actor: Any, items: list[service.ConsentChange], source: str = "app", **kw: Any) -> None:
    async with unit_of_work() as session:
        await service.update_consents(session, actor, items, source=source, **kw)


async def refused(actor: Any, items: list[service.ConsentChange], source: str = "app", **kw: Any) -> list[tuple]:
    with pytest.raises(DomainError) as caught:
        await answer(actor, items, source, **kw)
    return [(i.field, i.code) for i in caught.value.issues]


async def publish(purposes: list[str], changed: list[str], body: str = "第二版营销推送授权说明正文。") -> ConsentNotice:
    async with unit_of_work() as session:
        return await consents.publish_notice(
            session, ADMIN, title="营销推送授权说明（第二版）", body=body, purposes=purposes, changed_purposes=changed
        )


async def in_force(patient_id: uuid.UUID, channel: str, purpose: str) -> bool:
    async with unit_of_work() as session:
        return bool(await consents.consenting(session, [patient_id], channel, purpose))


async def pending(patient_id: uuid.UUID) -> list[tuple[str, list[str], int]]:
    async with unit_of_work() as session:
        found = await consents.reconfirmations_by_patient(session, [patient_id])
    return [(r.purpose, r.channels, r.notice.version) for r in found.get(patient_id, [])]


async def test_a_grant_records_the_notice_version_its_hash_and_source():
    patient = await new_member()
    await answer(as_patient(patient), [change("sms", "marketing", True, MARKETING_V)], "wechat")
    async with unit_of_work() as session:
        event = await session.scalar(
            select(ConsentEvent).where(ConsentEvent.patient_id == patient, ConsentEvent.purpose == "marketing")
        )
        row = await session.get(Consent, (patient, "sms", "marketing"))
        registration = await session.scalar(
            select(ConsentEvent).where(ConsentEvent.patient_id == patient, ConsentEvent.purpose == "service")
        )
    body = next(b for v, _, _, b in DEFAULT_NOTICES if v == MARKETING_V)
    assert event is not None and row is not None and registration is not None
    assert (event.notice_version, event.source, event.actor_id, event.granted) == (MARKETING_V, "wechat", patient, True)
    assert event.text_sha256 == hashlib.sha256(body.encode("utf-8")).hexdigest()
    assert (row.notice_version, row.source, row.granted) == (MARKETING_V, "wechat", True)
    # The registration default is evidence too: under the current service notice.
    assert (registration.notice_version, registration.source) == (SERVICE_V, "registration")

    # Front desk staff record a paper form: their source and the form's number.
    desk = staff(Role.CLINIC_STAFF)
    await answer(
        desk, [change("email", "service", True, SERVICE_V)], "front_desk", note="纸质授权书 No.0042", patient_id=patient
    )
    async with unit_of_work() as session:
        paper = await session.scalar(select(ConsentEvent).where(ConsentEvent.channel == "email"))
    assert paper is not None and (paper.source, paper.source_note, paper.actor_id) == (
        "front_desk",
        "纸质授权书 No.0042",
        desk.id,
    )


async def test_unknown_wrong_and_outdated_notices_and_sources_are_refused():
    patient = await new_member()
    me = as_patient(patient)
    assert await refused(me, [change("sms", "marketing", True, 999)]) == [
        ("items.0.noticeVersion", "CONSENT_NOTICE_UNKNOWN")
    ]
    assert await refused(me, [change("sms", "marketing", True, SERVICE_V)]) == [
        ("items.0.noticeVersion", "CONSENT_NOTICE_WRONG_PURPOSE")
    ]
    assert await refused(me, [change("sms", "marketing", True, MARKETING_V)], "front_desk") == [
        ("source", "CONSENT_SOURCE_INVALID")
    ]
    assert await refused(
        staff(Role.CLINIC_STAFF), [change("sms", "marketing", True, MARKETING_V)], "app", patient_id=patient
    ) == [("source", "CONSENT_SOURCE_INVALID")]
    assert await refused(me, [change("sms", "marketing", True, MARKETING_V)], "门诊纸质") == [
        ("source", "CONSENT_SOURCE_INVALID")
    ]
    assert await refused(me, [change("sms", "marketing", True, MARKETING_V)], note="备" * 101) == [
        ("sourceNote", "CONSENT_NOTE_LENGTH")
    ]

    await answer(me, [change("sms", "marketing", True, MARKETING_V)])
    v4 = await publish(["marketing"], ["marketing"])
    assert await refused(me, [change("in_app", "marketing", True, MARKETING_V)]) == [
        ("items.0.noticeVersion", "CONSENT_NOTICE_OUTDATED")
    ]
    # Withdrawing is never harder than granting: accepted under the notice the app still shows.
    await answer(me, [change("sms", "marketing", False, MARKETING_V)])
    await answer(me, [change("in_app", "marketing", True, v4.version)])
    assert await in_force(patient, "in_app", "marketing") and not await in_force(patient, "sms", "marketing")


async def test_a_new_version_asks_again_and_stops_marketing_for_the_changed_purposes_only():
    patient, other = await new_member(), await new_member()
    me = as_patient(patient)
    await answer(
        me,
        [
            change("in_app", "marketing", True, MARKETING_V),
            change("sms", "marketing", True, MARKETING_V),
            change("email", "marketing", False, MARKETING_V),
            change("in_app", "marketing_sensitive", True, SENSITIVE_V),
            change("sms", "service", True, SERVICE_V),
        ],
    )
    assert await in_force(patient, "sms", "marketing") and await pending(patient) == []

    # v4 covers both marketing purposes but changes only MARKETING's terms.
    v4 = await publish(["marketing", "marketing_sensitive"], ["marketing"])
    assert (v4.version, v4.changed_purposes) == (4, ["marketing"])
    assert v4.body_sha256 == hashlib.sha256("第二版营销推送授权说明正文。".encode()).hexdigest()
    assert not await in_force(patient, "sms", "marketing") and not await in_force(patient, "in_app", "marketing")
    assert await in_force(patient, "in_app", "marketing_sensitive")  # covered, unchanged: still counts
    assert await in_force(patient, "sms", "service")
    assert await pending(patient) == [("marketing", ["in_app", "sms"], 4)]  # the withdrawn e-mail is not asked
    assert await pending(other) == []

    # Every sender reads consent through the same test: the outreach policy no longer sees it either.
    async with unit_of_work() as session:
        facts = (await outreach.recipients(session, [patient], v4.published_at))[patient]
    assert ("sms", "marketing") not in facts.consents and ("in_app", "marketing_sensitive") in facts.consents

    # Reconfirming under v4: counts again and nothing is pending. The sensitive purpose's current
    # notice is v4 now too, so a new grant must cite it.
    await answer(me, [change("sms", "marketing", True, v4.version)])
    assert await in_force(patient, "sms", "marketing") and await pending(patient) == [("marketing", ["in_app"], 4)]
    await answer(me, [change("in_app", "marketing", False, v4.version)])
    assert await pending(patient) == []
    assert await refused(me, [change("sms", "marketing_sensitive", True, SENSITIVE_V)]) == [
        ("items.0.noticeVersion", "CONSENT_NOTICE_OUTDATED")
    ]

    # A change to the service terms asks again but keeps service messages flowing (care cannot wait).
    v5 = await publish(["service"], ["service"], body="第二版服务通知授权说明。")
    assert await in_force(patient, "sms", "service") and await in_force(patient, "in_app", "service")
    assert await pending(patient) == [("service", ["in_app", "sms"], v5.version)]


async def test_only_admins_publish_and_the_notice_must_be_whole():
    for actor in (staff(Role.MARKETER), staff(Role.CLINIC_STAFF), as_patient(uuid.uuid4())):
        with pytest.raises(PermissionDenied):
            async with unit_of_work() as session:
                await consents.publish_notice(
                    session, actor, title="说明", body="正文", purposes=["marketing"], changed_purposes=["marketing"]
                )

    async def bad(**kw: Any) -> list[tuple]:
        values = {"title": "说明", "body": "正文", "purposes": ["marketing"], "changed_purposes": [], **kw}
        with pytest.raises(DomainError) as caught:
            async with unit_of_work() as session:
                await consents.publish_notice(session, ADMIN, **values)
        return [(i.field, i.code) for i in caught.value.issues]

    assert await bad(title=" ") == [("title", "CONSENT_NOTICE_TITLE_LENGTH")]
    assert await bad(body="字" * (consents.MAX_BODY + 1)) == [("body", "CONSENT_NOTICE_BODY_LENGTH")]
    assert await bad(purposes=[]) == [("purposes", "CONSENT_NOTICE_PURPOSES_EMPTY")]
    assert await bad(purposes=["lottery"]) == [
        ("purposes", "CONSENT_PURPOSE_INVALID"),
        ("purposes", "CONSENT_NOTICE_PURPOSES_EMPTY"),
    ]
    assert await bad(changed_purposes=["service"]) == [("changedPurposes", "CONSENT_NOTICE_CHANGED_NOT_COVERED")]
    assert await bad(purposes=["marketing"] * 100) == [("purposes", "CONSENT_PURPOSE_INVALID")]

    # A new version that changes nothing (a wording fix) asks nobody again.
    patient = await new_member()
    await answer(as_patient(patient), [change("sms", "marketing", True, MARKETING_V)])
    fix = await publish(["marketing"], [])
    assert fix.changed_purposes == [] and await in_force(patient, "sms", "marketing") and await pending(patient) == []


async def test_the_history_is_the_patients_own_and_the_admins():
    patient, other = await new_member(), await new_member()
    await answer(as_patient(patient), [change("sms", "marketing", True, MARKETING_V)])
    await answer(as_patient(patient), [change("sms", "marketing", False, MARKETING_V)], "sms_reply")
    await answer(SYSTEM, [change("wechat", "service", True)], "import", note="旧系统迁移", patient_id=patient)

    async def history(actor: Any, patient_id: uuid.UUID | None = None) -> list[tuple]:
        async with unit_of_work() as session:
            page = await consents.history_page(session, actor, patient_id=patient_id, first=10, after=None)
        return [(e.channel, e.purpose, e.granted, e.source, e.notice_version) for e in page.items]

    mine = await history(as_patient(patient))
    assert mine == [
        ("wechat", "service", True, "import", SERVICE_V),
        ("sms", "marketing", False, "sms_reply", MARKETING_V),
        ("sms", "marketing", True, "app", MARKETING_V),
        ("in_app", "service", True, "registration", SERVICE_V),
    ]
    assert await history(ADMIN, patient) == mine
    assert await history(as_patient(patient), patient) == mine
    assert len(await history(as_patient(other))) == 1  # their own registration only
    for actor in (as_patient(other), staff(Role.MARKETER), staff(Role.DOCTOR)):
        with pytest.raises(PermissionDenied):
            await history(actor, patient)
    with pytest.raises(DomainError) as caught:
        await history(ADMIN, uuid.uuid4())
    assert caught.value.issues[0].code == "NOT_FOUND"
