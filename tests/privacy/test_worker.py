"""The copy and the erasure through a real arq worker: the jobs enqueued after commit are the ones the
worker runs (names and arguments wired in workers/settings.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import unit_of_work
from core.identity import Role
from patients.models import Patient
from privacy import erasure, export
from privacy.models import DataExport, ErasureRequest, ErasureStatus, ExportStatus, PostsChoice
from tests.factories import as_patient, new_member, staff

pytestmark = pytest.mark.usefixtures("ledger_invariants")


async def _work() -> None:
    from workers.settings import build_worker

    worker = build_worker(burst=True, poll_delay=0.05, handle_signals=False)
    try:
        await worker.main()
    finally:
        await worker.close()


async def test_the_worker_makes_the_copy_and_runs_the_erasure() -> None:
    pid = await new_member()
    async with unit_of_work() as session:
        copy = await export.request_export(session, as_patient(pid))
        request = await erasure.request_erasure(session, as_patient(pid), posts=PostsChoice.DELETE)
    async with unit_of_work() as session:  # an admin runs it at once: enqueued after commit
        await erasure.run_now(session, staff(Role.ADMIN), request.id)
    await _work()
    async with unit_of_work() as session:
        made = await session.get(DataExport, copy.id)
        erased = await session.get(ErasureRequest, request.id)
        patient = await session.scalar(select(Patient).where(Patient.id == pid))
    assert made is not None and erased is not None and patient is not None
    # The copy was made before the erasure ran (or stopped by it): either way nothing of it is left.
    assert made.status in (ExportStatus.DONE, ExportStatus.FAILED)
    assert erased.status == ErasureStatus.DONE and patient.erased_at is not None
    async with unit_of_work() as session:
        assert await session.scalar(select(DataExport.content).where(DataExport.id == copy.id)) is None
