"""A copy of the patient's data (PIPL art. 45): asked for in the app, made by a job, announced in the
inbox, downloaded as JSON by the patient only, for a week.

States: queued -> running -> done | failed. `request_export` writes a queued row (one open copy per
patient, one per PORTAL_EXPORT_INTERVAL_HOURS) and enqueues `privacy.export_run` after commit. The job
claims the row (running, attempts + 1, committed), then in one transaction gathers every domain
(privacy/collect.py), stores the JSON gzip-compressed in the row, marks it done and puts the inbox
message (unique source_ref): a job killed before that commit left nothing but the claim, a second copy
of the job running meanwhile finds the row done and stops, so a patient gets one copy and one message.
A sweeper re-enqueues copies whose job was lost and drops the content of expired ones.
"""

from __future__ import annotations

import gzip
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from core import clock, cpu, jobs
from core.db import after_commit, unit_of_work
from core.errors import PermissionDenied
from core.identity import Actor
from core.ids import new_id
from core.pagination import Page, keyset_page
from core.settings import get_settings
from messaging import inbox
from patients.models import Patient
from privacy import collect, errors
from privacy.config import get_privacy_settings
from privacy.models import OPEN_EXPORT, DataExport, ExportStatus

log = structlog.get_logger(__name__)

EXPORT_RUN = jobs.register("privacy.export_run", "Gather everything about a patient into their downloadable copy")
EXPORT_SWEEP = jobs.register("privacy.export_sweep", "Re-enqueue lost data exports and drop expired copies")

FORMAT = "kangning.patient-data/1"
ERROR_MAX = 200  # data_exports.error


def in_person(actor: Actor) -> uuid.UUID:
    """The signed-in patient themselves: a copy or an erasure is asked for in person, never by a guardian
    acting for them (the API refuses these fields to a delegation before they run, too)."""
    patient_id = actor.require_patient()
    if actor.delegate is not None:
        raise PermissionDenied("此操作需本人登录办理")
    return patient_id


def download_path(export_id: uuid.UUID) -> str:
    return f"/privacy/exports/{export_id}"


def download_url(export_id: uuid.UUID) -> str:
    return get_settings().public_base_url.rstrip("/") + download_path(export_id)


def local_text(at: datetime) -> str:
    """A time as patients read it (the deployment's zone, Asia/Shanghai by default)."""
    return at.astimezone(ZoneInfo(get_settings().default_timezone)).strftime("%Y年%m月%d日 %H:%M")


def downloadable(row: DataExport, now: datetime) -> bool:
    return row.status == ExportStatus.DONE and row.expires_at is not None and row.expires_at > now


async def enqueue_export(export_id: uuid.UUID) -> bool:
    return await EXPORT_RUN.enqueue(str(export_id), key=(export_id,))


async def request_export(session: AsyncSession, actor: Actor) -> DataExport:
    """The signed-in patient asks for a copy: at most one in the making, one per interval (a failed
    one does not count)."""
    patient_id = in_person(actor)
    # The patient's row lock serialises two requests of one patient (the unique index would refuse
    # the second anyway, as an error instead of a typed answer).
    await session.execute(select(Patient.id).where(Patient.id == patient_id).with_for_update())
    now = clock.now()
    running = await session.scalar(
        select(DataExport.id).where(DataExport.patient_id == patient_id, DataExport.status.in_(OPEN_EXPORT))
    )
    if running is not None:
        raise errors.ExportRunning()
    interval = timedelta(hours=get_privacy_settings().export_interval_hours)
    last = await session.scalar(
        select(DataExport.requested_at)
        .where(DataExport.patient_id == patient_id, DataExport.status != ExportStatus.FAILED)
        .order_by(DataExport.requested_at.desc())
        .limit(1)
    )
    if last is not None and last > now - interval:
        raise errors.ExportTooFrequent()
    row = DataExport(id=new_id(), patient_id=patient_id, status=ExportStatus.QUEUED, requested_at=now, attempts=0)
    session.add(row)
    await session.flush()
    export_id = row.id

    async def enqueue() -> None:
        await enqueue_export(export_id)

    after_commit(session, enqueue)
    return row


async def exports_page(
    session: AsyncSession, actor: Actor, *, first: int | None, after: str | None
) -> Page[DataExport]:
    """The signed-in patient's copies, newest first."""
    patient_id = in_person(actor)
    return await keyset_page(
        session,
        select(DataExport).where(DataExport.patient_id == patient_id),
        sort=DataExport.requested_at,
        id_=DataExport.id,
        first=first,
        after=after,
        descending=True,
    )


async def exports_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, DataExport]:
    return {e.id: e for e in await session.scalars(select(DataExport).where(DataExport.id.in_(ids)))}


@dataclass(frozen=True)
class Download:
    content: bytes  # gzip of the JSON
    filename: str
    sha256: str


async def download(session: AsyncSession, actor: Actor, export_id: uuid.UUID) -> Download:
    """The copy, to its patient only: anyone else's (or an unknown id) is not found, never forbidden."""
    patient_id = in_person(actor)
    stmt = select(DataExport).options(undefer(DataExport.content)).where(DataExport.id == export_id)
    row = await session.scalar(stmt)
    if row is None or row.patient_id != patient_id:
        raise errors.ExportNotFound()
    if row.status in OPEN_EXPORT:
        raise errors.ExportNotReady()
    if row.status == ExportStatus.FAILED:
        raise errors.ExportNotFound("该数据副本生成失败，请重新申请")
    if not downloadable(row, clock.now()) or row.content is None or row.sha256 is None:
        raise errors.ExportExpired()
    day = (row.finished_at or row.requested_at).date().isoformat()
    return Download(content=row.content, filename=f"personal-data-{day}.json", sha256=row.sha256)


# --- the job ----------------------------------------------------------------------------------------


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _pack(document: dict[str, Any]) -> tuple[bytes, bytes]:
    """(the JSON, its gzip): CPU work, run on the pool."""
    raw = orjson.dumps(document, default=_default, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    return raw, gzip.compress(raw, compresslevel=6, mtime=0)


async def _claim(export_id: uuid.UUID) -> uuid.UUID | None:
    """Marks the copy running and counts the try (committed); the patient, or None when there is nothing
    to do (done, failed, unknown) or the tries are used up (then it is failed)."""
    async with unit_of_work() as session:
        row = await session.scalar(select(DataExport).where(DataExport.id == export_id).with_for_update())
        if row is None or row.status not in OPEN_EXPORT:
            return None
        now = clock.now()
        if row.attempts >= get_privacy_settings().export_max_attempts:
            row.status, row.finished_at, row.error = ExportStatus.FAILED, now, "多次生成失败"
            return None
        row.status = ExportStatus.RUNNING
        row.started_at = row.started_at or now
        row.attempts += 1
        return row.patient_id


async def _make(export_id: uuid.UUID, patient_id: uuid.UUID) -> str:
    async with unit_of_work() as session:
        row = await session.scalar(select(DataExport).where(DataExport.id == export_id).with_for_update())
        if row is None or row.status != ExportStatus.RUNNING:
            return row.status if row is not None else "gone"  # another run finished it meanwhile
        now = clock.now()
        sections = await collect.everything(session, patient_id)
        document = {
            "format": FORMAT,
            "export_id": str(export_id),
            "patient_id": str(patient_id),
            "generated_at": now,
            "sections": sections,
        }
        raw, packed = await cpu.run(_pack, document)
        row.content = packed
        row.size_bytes, row.compressed_bytes = len(raw), len(packed)
        row.sha256 = hashlib.sha256(raw).hexdigest()
        row.status, row.finished_at, row.error = ExportStatus.DONE, now, None
        expires = now + timedelta(days=get_privacy_settings().export_ttl_days)
        row.expires_at = expires
        await inbox.put(
            session,
            patient_id=patient_id,
            subject="您的个人数据副本已生成",
            body=(
                "您申请的个人数据副本（JSON 格式）已生成，请在“隐私与授权 - 我的数据副本”中下载，"
                f"有效期至{local_text(expires)}。"
                "副本包含您的健康信息，请妥善保管，勿转发他人。"
            ),
            link=download_url(export_id),
            source_ref=f"data_export:{export_id}",
            tracked=False,
        )
        return ExportStatus.DONE.value


async def run_export(export_id: uuid.UUID) -> str:
    """Job `privacy.export_run`: at-least-once safe (see the module docstring). Returns the final state."""
    patient_id = await _claim(export_id)
    if patient_id is None:
        return "skipped"
    try:
        return await _make(export_id, patient_id)
    except Exception as exc:
        # The last try marks the copy failed (the patient may ask again); earlier ones retry.
        async with unit_of_work() as session:
            row = await session.scalar(select(DataExport).where(DataExport.id == export_id).with_for_update())
            if row is not None and row.status == ExportStatus.RUNNING:
                row.error = f"{type(exc).__name__}"[:ERROR_MAX]
                if row.attempts >= get_privacy_settings().export_max_attempts:
                    row.status, row.finished_at = ExportStatus.FAILED, clock.now()
        log.exception("data_export_failed", export_id=str(export_id))
        raise


async def sweep(*, stale_after: timedelta = timedelta(minutes=2), limit: int = 100) -> dict[str, int]:
    """Cron `privacy.export_sweep`: enqueue unfinished copies again (a no-op while their job is queued or
    running: the job id is the copy's id) and drop the content of expired copies (the row stays, as the
    record that a copy was made)."""
    now = clock.now()
    async with unit_of_work() as session:
        ids = list(
            await session.scalars(
                select(DataExport.id)
                .where(DataExport.status.in_(OPEN_EXPORT), DataExport.requested_at <= now - stale_after)
                .order_by(DataExport.requested_at)
                .limit(limit)
            )
        )
        dropped = len(
            (
                await session.execute(
                    update(DataExport)
                    .where(DataExport.content.is_not(None), DataExport.expires_at <= now)
                    .values(content=None)
                    .returning(DataExport.id)
                )
            ).all()
        )
    enqueued = 0
    for export_id in ids:
        if await enqueue_export(export_id):
            enqueued += 1
    return {"enqueued": enqueued, "dropped": dropped}
