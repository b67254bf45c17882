"""The outbox delivers through a real arq worker; dispatch is idempotent; the sweeper catches misses."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from core import clock, outbox, queue
from core.channels import ChannelName, DevMessage, Message, send_later
from core.db import unit_of_work
from core.outbox import OutboxMessage
from tests.support import REQUEST_CODE, data, gql, last_code
from workers.settings import build_worker


async def _run_worker_burst() -> None:
    worker = build_worker(burst=True, poll_delay=0.05, handle_signals=False)
    try:
        await worker.main()
    finally:
        await worker.close()


async def _count(model) -> int:
    async with unit_of_work() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_sign_in_code_is_delivered_by_a_real_worker(client, unique_phone):
    assert data(await gql(client, REQUEST_CODE, {"phone": unique_phone}))["authRequestCode"]["errors"] == []
    code = await last_code(unique_phone)
    await _run_worker_burst()
    async with unit_of_work() as session:
        delivered = (await session.scalars(select(DevMessage))).all()
        message = await session.scalar(select(OutboxMessage))
    assert len(delivered) == 1 and delivered[0].recipient == unique_phone and code in delivered[0].body
    assert message is not None and message.status == "sent" and message.sent_at is not None


async def test_dispatch_twice_delivers_once():
    async with unit_of_work() as session:
        row = await outbox.emit(session, "notify.send", Message(ChannelName.IN_APP, "someone", "您好").to_payload())
    assert await outbox.dispatch(row.id) == "sent"
    assert await outbox.dispatch(row.id) == "skipped"
    assert await _count(DevMessage) == 1


async def test_rolled_back_transaction_sends_nothing():
    class Boom(Exception):
        pass

    try:
        async with unit_of_work() as session:
            await send_later(session, Message(ChannelName.SMS, "13800001111", "不应发送"))
            raise Boom
    except Boom:
        pass
    assert await _count(OutboxMessage) == 0
    pool = await queue.get_pool()
    assert await pool.zcard("arq:queue") == 0


async def test_sweeper_enqueues_what_was_missed():
    async with unit_of_work() as session:
        row = await outbox.emit(session, "notify.send", Message(ChannelName.SMS, "13800002222", "补发").to_payload())
    pool = await queue.get_pool()
    await pool.flushdb()  # the after-commit enqueue is lost (Redis restarted, say)
    assert await outbox.sweep() == 0  # too young: its own enqueue may still be on the way
    clock.clock.advance(timedelta(seconds=11))
    assert await outbox.sweep() == 1
    assert await outbox.sweep() == 0  # already queued under the same job id
    clock.clock.reset()
    await _run_worker_burst()
    async with unit_of_work() as session:
        sent = await session.get(OutboxMessage, row.id)
    assert sent is not None and sent.status == "sent"


async def test_failed_delivery_backs_off_and_is_retried():
    async with unit_of_work() as session:
        row = await outbox.emit(session, "no.such.topic", {"x": 1})
    assert await outbox.dispatch(row.id) == "failed"
    async with unit_of_work() as session:
        failed = await session.get(OutboxMessage, row.id)
    assert failed is not None and failed.status == "pending" and failed.attempts == 1
    assert "no outbox handler" in (failed.last_error or "")
    assert await outbox.dispatch(row.id) == "not_due"
    clock.clock.advance(timedelta(minutes=1))
    assert await outbox.sweep() == 1  # a fresh job id for attempt 1
