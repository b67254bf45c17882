"""The inbox over GraphQL: connection, unread count, read marks as engagement events, privacy
between patients (connection and node), the live subscription and the staff template preview."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import select

from api.context import Context
from api.relay import parse_uuid_id, to_global_id
from api.schema import schema
from core.channels import ChannelName
from core.db import RequestDB, unit_of_work
from core.identity import Actor
from core.outbox import OutboxMessage
from messaging import engagement
from messaging.delivery import Outgoing, deliver
from tests.factories import as_patient, new_member
from tests.support import count_statements, data, gql, patient_session, staff_session

INBOX = """query($first: Int, $after: String) {
  inboxUnreadCount
  myInbox(first: $first, after: $after) {
    edges { cursor node { id subject body link isRead createdAt } }
    pageInfo { hasNextPage endCursor }
  } }"""
MARK_READ = """mutation($id: ID!) { inboxMarkRead(input: {id: $id}) {
  message { id isRead readAt } unreadCount errors { field code message } } }"""
MARK_ALL = "mutation { inboxMarkAllRead { marked unreadCount errors { code } } }"
OPEN_LINK = """mutation($id: ID!) { inboxOpenLink(input: {id: $id}) {
  link message { isRead } errors { code message } } }"""
NODE = "query($id: ID!) { node(id: $id) { id ... on InboxMessage { body } } }"
PREVIEW = """query($input: MessageTemplatePreviewInput!) { messageTemplatePreview(input: $input) {
  channel subject body issues { code field start end message } } }"""


async def put(patient_id: uuid.UUID, body: str, *, ref: str, link: str | None = None) -> None:
    async with unit_of_work() as session:
        result = await deliver(
            session,
            Outgoing(ChannelName.IN_APP, patient_id, subject="活动通知", body=body, link=link, source_ref=ref),
        )
    assert result.status == "delivered"


def raw(global_id: str, type_name: str = "Patient") -> uuid.UUID:
    parsed = parse_uuid_id(global_id, type_name)
    assert parsed is not None
    return parsed


async def engaged() -> list[tuple[str, str]]:
    async with unit_of_work() as session:
        rows = await session.scalars(
            select(OutboxMessage.payload)
            .where(OutboxMessage.topic == engagement.ENGAGED_TOPIC)
            .order_by(OutboxMessage.created_at)
        )
        return [(p["source_ref"], p["kind"]) for p in rows]


async def test_inbox_connection_unread_count_and_read_marks_emit_engagement(client):
    alice = await patient_session(client, "13900001001")
    alice_id = raw(alice.id)
    for n in range(3):
        await put(
            alice_id, f"第{n}条消息", ref=f"campaign_delivery:a{n}", link="https://m.example/e/1" if n == 2 else None
        )
    inbox = data(await gql(client, INBOX, {"first": 2}, token=alice.access))
    assert inbox["inboxUnreadCount"] == 3
    nodes = [e["node"] for e in inbox["myInbox"]["edges"]]
    assert [n["body"] for n in nodes] == ["第2条消息", "第1条消息"]  # newest first
    assert inbox["myInbox"]["pageInfo"]["hasNextPage"] is True
    rest = data(
        await gql(client, INBOX, {"first": 2, "after": inbox["myInbox"]["pageInfo"]["endCursor"]}, token=alice.access)
    )
    assert [e["node"]["body"] for e in rest["myInbox"]["edges"]] == ["第0条消息"]

    oldest = rest["myInbox"]["edges"][0]["node"]["id"]
    marked = data(await gql(client, MARK_READ, {"id": oldest}, token=alice.access))["inboxMarkRead"]
    assert marked["errors"] == [] and marked["message"]["isRead"] is True and marked["unreadCount"] == 2
    again = data(await gql(client, MARK_READ, {"id": oldest}, token=alice.access))["inboxMarkRead"]
    assert again["errors"] == [] and again["unreadCount"] == 2
    assert await engaged() == [("campaign_delivery:a0", "opened")]  # once, however often it is marked

    newest = nodes[0]["id"]
    opened = data(await gql(client, OPEN_LINK, {"id": newest}, token=alice.access))["inboxOpenLink"]
    assert opened["link"] == "https://m.example/e/1" and opened["message"]["isRead"] is True
    no_link = data(await gql(client, OPEN_LINK, {"id": nodes[1]["id"]}, token=alice.access))["inboxOpenLink"]
    assert no_link["errors"][0]["code"] == "INBOX_MESSAGE_NO_LINK"
    all_read = data(await gql(client, MARK_ALL, token=alice.access))["inboxMarkAllRead"]
    assert all_read == {"marked": 1, "unreadCount": 0, "errors": []}
    assert await engaged() == [
        ("campaign_delivery:a0", "opened"),
        ("campaign_delivery:a2", "opened"),  # a click implies an open
        ("campaign_delivery:a2", "clicked"),
        ("campaign_delivery:a1", "opened"),
    ]


async def test_a_patient_cannot_read_or_mark_another_patients_messages(client):
    alice = await patient_session(client, "13900001002")
    bob = await patient_session(client, "13900001003")
    await put(raw(alice.id), "只给王阿姨的消息", ref="private:1")
    await put(raw(bob.id), "给李叔叔的消息", ref="private:2")
    alice_message = data(await gql(client, INBOX, token=alice.access))["myInbox"]["edges"][0]["node"]["id"]

    bobs = data(await gql(client, INBOX, token=bob.access))
    assert [e["node"]["body"] for e in bobs["myInbox"]["edges"]] == ["给李叔叔的消息"]
    assert bobs["inboxUnreadCount"] == 1
    assert data(await gql(client, NODE, {"id": alice_message}, token=bob.access))["node"] is None
    assert (
        data(await gql(client, NODE, {"id": alice_message}, token=alice.access))["node"]["body"] == "只给王阿姨的消息"
    )
    refused = data(await gql(client, MARK_READ, {"id": alice_message}, token=bob.access))["inboxMarkRead"]
    assert refused["message"] is None and refused["errors"][0]["code"] == "INBOX_MESSAGE_NOT_FOUND"
    assert data(await gql(client, OPEN_LINK, {"id": alice_message}, token=bob.access))["inboxOpenLink"]["errors"]
    assert data(await gql(client, INBOX, token=alice.access))["inboxUnreadCount"] == 1  # untouched

    anonymous = await gql(client, INBOX)
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    marketer = await staff_session(client, "shichang@example.com", ["marketer"])
    staff_view = await gql(client, INBOX, token=marketer.access)
    assert staff_view["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert data(await gql(client, NODE, {"id": alice_message}, token=marketer.access))["node"] is None


async def test_inbox_statement_count_does_not_grow_with_page_size(client):
    alice = await patient_session(client, "13900001004")
    for n in range(12):
        await put(raw(alice.id), f"消息{n}", ref=f"count:{n}")
    counts = []
    for first in (2, 12):
        with count_statements() as counter:
            data(await gql(client, INBOX, {"first": first}, token=alice.access))
        counts.append(counter.count)
    assert counts[0] == counts[1]


def _context(actor: Actor) -> Context:
    return Context(
        request=None,  # type: ignore[arg-type]
        response=None,
        actor=actor,
        db=RequestDB(release_after_read=True),
        request_id="test",
    )


async def test_subscription_receives_only_the_patients_own_new_messages():
    alice, bob = await new_member(), await new_member()
    stream: Any = await schema.subscribe(
        "subscription { inboxMessages { id body isRead } }", context_value=_context(as_patient(alice))
    )
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.3)  # let the subscriber attach before anything is published
    await put(bob, "给别人的消息", ref="live:bob")
    await put(alice, "您报名的讲座明天开始", ref="live:alice")
    result = await asyncio.wait_for(first, timeout=5)
    assert result.errors is None
    assert result.data["inboxMessages"]["body"] == "您报名的讲座明天开始"
    assert result.data["inboxMessages"]["isRead"] is False
    await stream.aclose()


async def test_subscription_needs_a_signed_in_patient():
    from core.identity import ANONYMOUS

    stream: Any = await schema.subscribe("subscription { inboxMessages { id } }", context_value=_context(ANONYMOUS))
    result = await asyncio.wait_for(stream.__anext__(), timeout=5)
    assert result.errors and result.errors[0].message == "请先登录"


async def test_template_preview_for_marketers_only(client):
    alice = await patient_session(client, "13900001005")
    marketer = await staff_session(client, "yunying@example.com", ["marketer"])
    variables = {
        "input": {
            "channel": "SMS",
            "body": "{nickname}您好，{event_title}邀您参加。{diagnosis}",
            "patientId": alice.id,
            "variables": [{"name": "event_title", "value": "糖尿病饮食讲座"}],
        }
    }
    preview = data(await gql(client, PREVIEW, variables, token=marketer.access))["messageTemplatePreview"]
    assert preview["channel"] == "SMS"
    assert preview["body"] == "康友1005您好，糖尿病饮食讲座邀您参加。{diagnosis}"
    assert [(i["code"], i["field"]) for i in preview["issues"]] == [
        ("TEMPLATE_UNKNOWN_VARIABLE", "body"),
        ("TEMPLATE_CONDITION_NAME", "renderedBody"),
    ]
    refused = await gql(client, PREVIEW, variables, token=alice.access)
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    in_app = {"input": {**variables["input"], "channel": "IN_APP", "body": "{nickname}您好"}}
    ok = data(await gql(client, PREVIEW, in_app, token=marketer.access))["messageTemplatePreview"]
    assert ok["issues"] == [] and ok["body"] == "康友1005您好"
    unknown_patient = {"input": {**in_app["input"], "patientId": to_global_id("Patient", uuid.uuid4())}}
    missing = await gql(client, PREVIEW, unknown_patient, token=marketer.access)
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
