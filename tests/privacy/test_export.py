"""The patient's copy of their data (PIPL art. 45), in the domain: it holds what every domain stores
about them, it is made once however often the job runs or dies, one is in the making at a time and one
a day, only its patient downloads it, for a week."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core import clock, queue
from core.db import unit_of_work
from core.errors import PermissionDenied
from core.identity import Role
from messaging.models import InboxMessage
from patients import guardians
from privacy import collect, errors, export
from privacy.models import DataExport, ExportStatus
from tests.care.support import start
from tests.factories import as_patient, new_member, staff
from tests.privacy.support import rich_patient, stored_copy

pytestmark = pytest.mark.usefixtures("ledger_invariants")


@pytest.fixture(autouse=True)
def _frozen() -> None:
    clock.clock.freeze(start())


async def _request(pid: uuid.UUID) -> uuid.UUID:
    async with unit_of_work() as session:
        return (await export.request_export(session, as_patient(pid))).id


async def _row(export_id: uuid.UUID) -> DataExport:
    async with unit_of_work() as session:
        row = await session.get(DataExport, export_id)
    assert row is not None
    return row


async def _ready_messages(pid: uuid.UUID) -> list[InboxMessage]:
    async with unit_of_work() as session:
        return list(
            await session.scalars(
                select(InboxMessage).where(
                    InboxMessage.patient_id == pid, InboxMessage.source_ref.like("data_export:%")
                )
            )
        )


async def test_the_copy_holds_what_every_domain_stores_about_the_patient() -> None:
    rich = await rich_patient()
    export_id = await _request(rich.pid)
    assert (await _row(export_id)).status == ExportStatus.QUEUED
    assert await export.run_export(export_id) == "done"

    row = await _row(export_id)
    assert row.status == ExportStatus.DONE and row.finished_at == clock.now()
    assert row.expires_at == clock.now() + timedelta(days=7)
    document = await stored_copy(export_id)
    assert row.size_bytes is not None and row.compressed_bytes is not None and row.compressed_bytes < row.size_bytes
    assert document["format"] == export.FORMAT and document["patient_id"] == str(rich.pid)
    s: dict[str, Any] = document["sections"]
    assert list(s) == [name for name, _ in collect.SECTIONS]
    assert s["profile"]["real_name"] == "张三" and s["profile"]["email"] == "zhangsan@example.cn"
    assert s["profile"]["birth_date"] == "1980-05-06"
    assert [c["code"] for c in s["conditions"]] == ["diabetes"]
    assert any(e["purpose"] == "marketing" and e["granted"] for e in s["consents"]["history"])
    assert all(len(e["text_sha256"]) == 64 for e in s["consents"]["history"])
    assert len(s["visits"]) == 1 and s["visits"][0]["department"] == "内分泌科"
    assert s["points"]["balances"]["available"] >= 400 and s["points"]["balances"]["pending"] > 0
    assert s["points"]["entries"] and s["points"]["lots"]
    assert [r["reward"] for r in s["redemptions"]] == ["血糖仪"]
    assert [g["state"] for g in s["groups"]] == ["active"]
    titles = {p["title"]: p for p in s["posts"]}
    assert set(titles) == {"控糖经验分享", "匿名请教"} and titles["匿名请教"]["anonymous"] is True
    assert [c["body"] for c in s["comments"]] == ["补充：饭后也要走一走"]
    assert [r["kind"] for r in s["reactions"]["community"]] == ["like"]
    assert [b["post"] for b in s["bookmarks"]["bookmarks"]] == ["今天的早餐"]
    assert [(link["target_kind"], len(link["code"])) for link in s["bookmarks"]["share_links"]] == [("post", 10)]
    assert s["referrals"]["code"] is not None  # made for the share link
    assert [(i["purpose"], i["content_type"][:6]) for i in s["images"]] == [("avatar", "image/")]
    social = s["social"]
    assert social["profile"]["bio"] == "控糖五年，爱好快走" and social["followers"] == 1
    [followed] = social["following"]
    assert followed["kind"] == "patient" and followed["name"]  # by the nickname the community shows
    assert [t["tag"] for t in social["tags"]] == ["控糖"] and len(social["blocked"]) == 1
    assert set(s["notifications"]) == {"notifications", "preferences"}  # the notification centre's rows
    assert s["check_ins"]["entries"][0]["note"] == "早饭前测" and s["check_ins"]["entries"][0]["value"]["mmol"] == 6.1
    assert [r["title"] for r in s["events"]["registrations"]] == ["糖尿病饮食讲座"]
    assert [c["body"] for c in s["complaints"]] == ["取药窗口排队太久，没人解释"]
    assert s["complaints"][0]["history"][0]["action"] == "opened"
    assert [(v["score"], v["comment"]) for v in s["surveys"]] == [(9, "医生很耐心")]
    [thread] = s["care_team"]["conversations"]
    assert thread["subject"] == "用药咨询"
    assert [(m["from"], m["body"]) for m in thread["messages"]] == [("我", "二甲双胍饭前还是饭后吃？")]
    assert "欢迎加入康宁会员" in [m["body"] for m in s["inbox"]]
    assert [(r["reader"], r["kind"]) for r in s["health_data_reads"]] == [("王医生", "所患病种")]
    assert s["health_data_reads"][0]["reader_roles"] == ["医生"]
    assert s["guardianships"] == {"delegations": [], "actions": []}

    # The patient hears of it in the inbox, with the link to download it.
    [message] = await _ready_messages(rich.pid)
    assert message.link is not None and message.link.endswith(f"/privacy/exports/{export_id}")


async def test_running_the_job_twice_makes_one_copy_and_one_message() -> None:
    pid = await new_member()
    export_id = await _request(pid)
    assert await export.run_export(export_id) == "done"
    first = await _row(export_id)
    assert await export.run_export(export_id) == "skipped"
    again = await _row(export_id)
    assert (again.sha256, again.finished_at, again.attempts) == (first.sha256, first.finished_at, 1)
    assert len(await _ready_messages(pid)) == 1


async def test_a_job_killed_midway_is_finished_by_the_next_run(monkeypatch: pytest.MonkeyPatch) -> None:
    pid = await new_member()
    export_id = await _request(pid)
    real = collect.everything
    calls = 0

    async def dies_once(session: Any, patient_id: uuid.UUID) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("worker killed")
        return await real(session, patient_id)

    monkeypatch.setattr(collect, "everything", dies_once)
    with pytest.raises(RuntimeError):
        await export.run_export(export_id)
    row = await _row(export_id)
    assert (row.status, row.attempts, row.error) == (ExportStatus.RUNNING, 1, "RuntimeError")
    assert await _ready_messages(pid) == []

    # Its job is lost (Redis emptied): the sweeper finds it once it has waited a while, the next run
    # finishes it.
    await (await queue.get_pool()).flushdb()
    assert (await export.sweep())["enqueued"] == 0
    clock.clock.advance(timedelta(minutes=3))
    assert (await export.sweep())["enqueued"] == 1
    assert await export.run_export(export_id) == "done"
    assert (await _row(export_id)).attempts == 2
    assert len(await _ready_messages(pid)) == 1


async def test_a_copy_that_keeps_failing_is_marked_failed_and_may_be_asked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pid = await new_member()
    export_id = await _request(pid)

    async def broken(session: Any, patient_id: uuid.UUID) -> dict[str, Any]:
        raise RuntimeError("broken")

    monkeypatch.setattr(collect, "everything", broken)
    for _ in range(3):
        with pytest.raises(RuntimeError):
            await export.run_export(export_id)
    assert (await _row(export_id)).status == ExportStatus.FAILED
    assert await export.run_export(export_id) == "skipped"
    monkeypatch.undo()
    again = await _request(pid)  # a failed copy counts for neither limit
    assert again != export_id


async def test_one_copy_in_the_making_and_one_a_day() -> None:
    pid = await new_member()
    export_id = await _request(pid)
    with pytest.raises(errors.ExportRunning) as running:
        await _request(pid)
    assert running.value.code == "DATA_EXPORT_RUNNING"
    await export.run_export(export_id)
    clock.clock.advance(timedelta(hours=23))
    with pytest.raises(errors.ExportTooFrequent) as frequent:
        await _request(pid)
    assert frequent.value.code == "DATA_EXPORT_TOO_FREQUENT"
    clock.clock.advance(timedelta(hours=1, seconds=1))
    assert await _request(pid) != export_id


async def test_only_its_patient_downloads_it_and_only_for_a_week() -> None:
    pid, other = await new_member(), await new_member()
    export_id = await _request(pid)
    async with unit_of_work() as session:
        with pytest.raises(errors.ExportNotReady):
            await export.download(session, as_patient(pid), export_id)
    await export.run_export(export_id)
    async with unit_of_work() as session:
        found = await export.download(session, as_patient(pid), export_id)
        assert found.filename.startswith("personal-data-") and found.filename.endswith(".json")
        with pytest.raises(errors.ExportNotFound):  # someone else's is not found, never forbidden
            await export.download(session, as_patient(other), export_id)
        with pytest.raises(errors.ExportNotFound):
            await export.download(session, as_patient(pid), uuid.uuid4())
        with pytest.raises(PermissionDenied):  # staff never download a patient's copy
            await export.download(session, staff(Role.ADMIN), export_id)

    clock.clock.advance(timedelta(days=7))
    async with unit_of_work() as session:
        with pytest.raises(errors.ExportExpired):
            await export.download(session, as_patient(pid), export_id)
    assert (await export.sweep())["dropped"] == 1
    async with unit_of_work() as session:
        assert await session.scalar(select(DataExport.content).where(DataExport.id == export_id)) is None
        assert await session.scalar(select(func.count()).select_from(DataExport)) == 1  # the record stays
        with pytest.raises(errors.ExportExpired):
            await export.download(session, as_patient(pid), export_id)


async def test_staff_and_strangers_cannot_ask_for_a_copy() -> None:
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await export.request_export(session, staff(Role.ADMIN))


async def test_the_copy_holds_the_delegations_on_both_sides_and_what_was_done_under_them() -> None:
    pid, parent, child = await new_member(), await new_member(), await new_member()
    desk = staff(Role.CLINIC_STAFF)
    async with unit_of_work() as session:
        for guardian, dependent in ((pid, parent), (child, pid)):
            await guardians.create_by_staff(
                session,
                desk,
                guardian_id=guardian,
                dependent_id=dependent,
                relation="parent" if guardian == pid else "child",
                scopes=["view"],
                evidence_note="核验户口本",
            )
    async with unit_of_work() as session:
        acting = await guardians.act_for(session, as_patient(child), pid)
        await guardians.record_view(session, acting, ["pointsHistory"], None)
    export_id = await _request(pid)
    await export.run_export(export_id)
    section = (await stored_copy(export_id))["sections"]["guardianships"]
    assert sorted((d["side"], d["relation"], d["status"]) for d in section["delegations"]) == [
        ("dependent", "child", "active"),
        ("guardian", "parent", "active"),
    ]
    assert [(a["side"], a["scope"], a["target"]) for a in section["actions"]] == [
        ("done_for_me", "view", "pointsHistory")
    ]
