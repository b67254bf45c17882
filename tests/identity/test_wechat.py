"""Real WeChat: bindings from the mini program's login code, one-time subscribe grants spent once
per send (never twice, never without one), in-app fallback, the access token cached in Redis and
refreshed by one process, errcode handling; all against a local WeChat server."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core import clock, outbox, queue
from core.channels import ChannelName
from core.db import unit_of_work
from core.outbox import OutboxMessage
from core.settings import reset_settings
from messaging import wechat, wechat_service
from messaging.config import reset_messaging_settings
from messaging.delivery import DeliveryResult, Outgoing, deliver
from messaging.models import InboxMessage, MessageDelivery, WechatBinding, WechatGrant
from tests.factories import as_patient, new_member, next_phone
from tests.provider_servers import WechatServer
from tests.support import data, gql, patient_session

MINI, MINI_SECRET = "wx-mini-0001", "mini-secret-0123456789"
OA, OA_SECRET = "wx-oa-0002", "oa-secret-0123456789"
TEMPLATES = {
    "notice": {
        "template_id": "TPL-NOTICE",
        "page": "pages/inbox/index",
        "fields": {"thing1": "subject", "thing2": "body", "time3": "time"},
    },
    "marketing": {"template_id": "TPL-MKT", "fields": {"thing1": "body", "phrase2": "=会员日"}},
}
PUSH_TOKEN = "wechat-push-token-0123"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BIND = """mutation($code: String!, $app: WechatApp) { wechatBind(input: {code: $code, app: $app}) {
  binding { app boundAt } errors { field code message } } }"""
UNBIND = "mutation { wechatUnbind(input: {}) { unbound errors { code message } } }"
GRANT = """mutation($ids: [String!]!) { wechatSubscriptionsGrant(input: {templateIds: $ids}) {
  subscriptions { templateId remaining } errors { field code message } } }"""
MINE = "{ myWechatBindings { app } myWechatSubscriptions { templateId remaining } }"


def _env(url: str, **extra: str) -> dict[str, str]:
    return {
        "PORTAL_WECHAT_PROVIDER": "api",
        "PORTAL_WECHAT_API_BASE": url,
        "PORTAL_WECHAT_MINI_APP_ID": MINI,
        "PORTAL_WECHAT_MINI_APP_SECRET": MINI_SECRET,
        "PORTAL_WECHAT_OA_APP_ID": OA,
        "PORTAL_WECHAT_OA_APP_SECRET": OA_SECRET,
        "PORTAL_WECHAT_TEMPLATES": json.dumps(TEMPLATES),
        "PORTAL_WECHAT_CALLBACK_TOKEN": PUSH_TOKEN,
        **extra,
    }


@pytest.fixture
def wx(monkeypatch: pytest.MonkeyPatch) -> Iterator[WechatServer]:
    with WechatServer({MINI: MINI_SECRET, OA: OA_SECRET}).running() as server:
        for k, v in _env(server.url).items():
            monkeypatch.setenv(k, v)
        reset_settings()
        reset_messaging_settings()
        yield server
    monkeypatch.undo()
    reset_settings()
    reset_messaging_settings()


async def bound_patient(server: WechatServer, openid: str | None = None, app: str = "mini_program") -> uuid.UUID:
    patient = await new_member()
    openid = openid or f"o-{uuid.uuid4().hex[:12]}"
    server.codes[f"code-{openid}"] = openid
    identity = await wechat_service.resolve_code(as_patient(patient), code=f"code-{openid}", app=app)
    async with unit_of_work() as session:
        await wechat_service.bind(session, as_patient(patient), identity)
    return patient


async def grant(patient: uuid.UUID, *template_ids: str) -> dict[str, int]:
    async with unit_of_work() as session:
        return await wechat_service.record_grants(session, as_patient(patient), list(template_ids))


async def send(
    patient: uuid.UUID, body: str, *, ref: str | None = None, kind: str = "notice", **kw: Any
) -> DeliveryResult:
    async with unit_of_work() as session:
        return await deliver(
            session,
            Outgoing(
                channel=ChannelName.WECHAT,
                patient_id=patient,
                subject=kw.get("subject", "复诊提醒"),
                body=body,
                link=kw.get("link"),
                source_ref=ref or f"wx:{uuid.uuid4()}",
                kind=kind,
            ),
        )


async def dispatch_due(topic: str = "messaging.send") -> list[str]:
    async with unit_of_work() as session:
        ids = list(
            await session.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.status == "pending", OutboxMessage.topic == topic)
                .order_by(OutboxMessage.created_at)
            )
        )
    return [await outbox.dispatch(i) for i in ids]


async def delivery(ref: str) -> MessageDelivery:
    async with unit_of_work() as session:
        row = await session.scalar(select(MessageDelivery).where(MessageDelivery.source_ref == ref))
    assert row is not None
    return row


async def unused(patient: uuid.UUID) -> int:
    async with unit_of_work() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(WechatGrant)
                .where(WechatGrant.patient_id == patient, WechatGrant.used_at.is_(None))
            )
            or 0
        )


# --- binding and grants over GraphQL --------------------------------------------------------------


async def test_patient_binds_with_the_login_code_reports_grants_and_unbinds(wx, client):
    me = await patient_session(client, next_phone())
    wx.codes["login-code-1"] = "o-wang-ayi"
    bound = data(await gql(client, BIND, {"code": "login-code-1"}, token=me.access))["wechatBind"]
    assert bound["errors"] == [] and bound["binding"]["app"] == "MINI_PROGRAM"
    used = data(await gql(client, BIND, {"code": "login-code-1"}, token=me.access))["wechatBind"]
    assert [(e["code"], e["field"]) for e in used["errors"]] == [("WECHAT_CODE_INVALID", "code")]
    assert "重新" in used["errors"][0]["message"]
    empty = data(await gql(client, BIND, {"code": " "}, token=me.access))["wechatBind"]
    assert empty["errors"][0]["code"] == "WECHAT_CODE_INVALID"

    granted = data(await gql(client, GRANT, {"ids": ["TPL-NOTICE", "TPL-NOTICE", "TPL-MKT"]}, token=me.access))
    assert granted["wechatSubscriptionsGrant"] == {
        "subscriptions": [{"templateId": "TPL-MKT", "remaining": 1}, {"templateId": "TPL-NOTICE", "remaining": 2}],
        "errors": [],
    }
    unknown = data(await gql(client, GRANT, {"ids": ["TPL-NOTICE", "TPL-EVIL"]}, token=me.access))
    assert [(e["code"], e["field"]) for e in unknown["wechatSubscriptionsGrant"]["errors"]] == [
        ("WECHAT_TEMPLATE_UNKNOWN", "templateIds.1")
    ]
    mine = data(await gql(client, MINE, token=me.access))
    assert mine["myWechatBindings"] == [{"app": "MINI_PROGRAM"}]
    assert {s["templateId"]: s["remaining"] for s in mine["myWechatSubscriptions"]} == {"TPL-MKT": 1, "TPL-NOTICE": 2}

    # The same WeChat user signs in to another account and binds: the openid moves with them.
    other = await patient_session(client, next_phone())
    wx.codes["login-code-2"] = "o-wang-ayi"
    assert data(await gql(client, BIND, {"code": "login-code-2"}, token=other.access))["wechatBind"]["errors"] == []
    assert data(await gql(client, MINE, token=me.access))["myWechatBindings"] == []
    assert data(await gql(client, UNBIND, token=other.access))["wechatUnbind"] == {"unbound": True, "errors": []}
    again = data(await gql(client, UNBIND, token=other.access))["wechatUnbind"]
    assert again["unbound"] is False and again["errors"][0]["code"] == "WECHAT_NOT_BOUND"
    anonymous = data(await gql(client, BIND, {"code": "x"}))["wechatBind"]
    assert anonymous["errors"][0]["code"] == "NOT_AUTHENTICATED"


# --- sending: grants, fallback ---------------------------------------------------------------------


async def test_each_send_spends_one_grant_and_without_one_the_inbox_takes_over(wx):
    patient = await bound_patient(wx, "o-li")
    await grant(patient, "TPL-NOTICE", "TPL-NOTICE")
    results = [await send(patient, f"您预约的第{i}次复诊在明天上午九点", ref=f"n{i}") for i in range(3)]
    assert [r.status for r in results] == ["queued", "queued", "delivered"]
    assert results[2].error == "fallback:no_subscription"
    assert await unused(patient) == 0
    assert await dispatch_due() == ["sent", "sent"]
    assert len(wx.sent) == 2 and wx.token_calls == 1  # one token for both sends
    first = wx.sent[0]
    assert (first["path"], first["touser"], first["template_id"], first["page"]) == (
        "/cgi-bin/message/subscribe/send",
        "o-li",
        "TPL-NOTICE",
        "pages/inbox/index",
    )
    assert first["data"]["thing1"] == {"value": "复诊提醒"}
    assert first["data"]["thing2"]["value"] == "您预约的第0次复诊在明天上午九点"
    assert (await delivery("n0")).status == "sent" and (await delivery("n0")).provider_ref.startswith("wechat:")
    fallback = await delivery("n2")
    assert (fallback.channel, fallback.status) == ("in_app", "delivered")
    async with unit_of_work() as session:
        inbox = (await session.scalars(select(InboxMessage).where(InboxMessage.patient_id == patient))).all()
    assert [m.source_ref for m in inbox] == ["n2"]

    long = await send(patient, "很长" * 30, ref="long", kind="marketing")  # no TPL-MKT grant: inbox
    assert long.status == "delivered"
    await grant(patient, "TPL-MKT")
    await send(patient, "会员日积分翻倍，欢迎到院参加义诊与健康讲座活动", ref="mkt", kind="marketing")
    await dispatch_due()
    data_fields = wx.sent[-1]["data"]
    assert data_fields["thing1"]["value"] == "会员日积分翻倍，欢迎到院参加义诊与健康…"  # thing: 20 characters
    assert data_fields["phrase2"]["value"] == "会员日"


async def test_no_binding_means_the_inbox(wx):
    patient = await new_member()
    result = await send(patient, "您的体检报告已出", ref="unbound")
    assert (result.status, result.error) == ("delivered", "fallback:no_binding")
    assert (await delivery("unbound")).channel == "in_app" and wx.sent == []


async def test_concurrent_sends_never_spend_one_grant_twice(wx):
    patient = await bound_patient(wx)
    await grant(patient, *["TPL-NOTICE"] * 3)
    gate = asyncio.Event()

    async def one(i: int) -> DeliveryResult:
        await gate.wait()
        return await send(patient, f"第{i}条提醒", ref=f"race-{i}")

    tasks = [asyncio.create_task(one(i)) for i in range(10)]
    gate.set()
    results = await asyncio.gather(*tasks)
    assert sorted(r.status for r in results) == ["delivered"] * 7 + ["queued"] * 3
    async with unit_of_work() as session:
        spent = (await session.scalars(select(WechatGrant.used_by).where(WechatGrant.patient_id == patient))).all()
    assert len(spent) == 3 and None not in spent and len(set(spent)) == 3
    assert await dispatch_due() == ["sent"] * 3 and len(wx.sent) == 3


# --- the access token -------------------------------------------------------------------------------


async def test_access_token_is_cached_in_redis_and_fetched_once_under_concurrency(wx):
    wx.token_delay = 0.2
    tokens = await asyncio.gather(*(wechat.access_token("mini_program") for _ in range(8)))
    assert len(set(tokens)) == 1 and wx.token_calls == 1
    redis = await queue.get_pool()
    ttl = await redis.ttl(f"portal:wechat:token:{MINI}")
    assert 7200 - 300 - 5 <= ttl <= 7200 - 300  # expires_in minus the margin
    # Another process reads the same token from Redis and fetches nothing.
    env = {**os.environ, **_env(wx.url), "PORTAL_LOG_LEVEL": "WARNING"}
    code = "import asyncio\nfrom messaging import wechat\nprint(asyncio.run(wechat.access_token('mini_program')))"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert out.decode().strip().splitlines()[-1] == tokens[0] and wx.token_calls == 1


async def test_an_invalidated_token_is_refreshed_once_and_the_send_repeated(wx):
    patient = await bound_patient(wx)
    await grant(patient, "TPL-NOTICE", "TPL-NOTICE")
    await send(patient, "提醒一", ref="t1")
    await dispatch_due()
    assert wx.token_calls == 1
    wx.expire_tokens()  # as when another system fetched a token: 40001 for ours
    await send(patient, "提醒二", ref="t2")
    assert await dispatch_due() == ["sent"]
    assert wx.token_calls == 2 and wx.calls == [0, 40001, 0]
    assert (await delivery("t2")).status == "sent"


async def test_token_expiring_soon_is_refreshed_before_expiry(wx):
    wx.expires_in = 400  # cached for 100 s (margin 300)
    first = await wechat.access_token("mini_program")
    redis = await queue.get_pool()
    assert 0 < await redis.ttl(f"portal:wechat:token:{MINI}") <= 100
    await redis.delete(f"portal:wechat:token:{MINI}")  # what the TTL does after 100 s
    assert await wechat.access_token("mini_program") != first and wx.token_calls == 2


# --- errcodes ----------------------------------------------------------------------------------------


async def test_errcodes_refused_falls_back_bad_openid_drops_the_binding_quota_retries(wx):
    refused = await bound_patient(wx, "o-refused")
    bad = await bound_patient(wx, "o-bad")
    quota = await bound_patient(wx, "o-quota")
    for p in (refused, bad, quota):
        await grant(p, "TPL-NOTICE")
    wx.plays["o-refused"] = [43101]
    wx.plays["o-bad"] = [40003]
    wx.plays["o-quota"] = [45009]
    for p, ref in ((refused, "e-refused"), (bad, "e-bad"), (quota, "e-quota")):
        assert (await send(p, "复诊提醒", ref=ref)).status == "queued"
    assert await dispatch_due() == ["sent", "sent", "failed"]

    for ref, reason in (("e-refused", "fallback:refused:43101"), ("e-bad", "fallback:bad_openid:40003")):
        row = await delivery(ref)
        assert (row.channel, row.status, row.error) == ("in_app", "delivered", reason)
    async with unit_of_work() as session:
        inbox_refs = set(await session.scalars(select(InboxMessage.source_ref)))
        bindings = set(await session.scalars(select(WechatBinding.openid)))
    assert inbox_refs == {"e-refused", "e-bad"}
    assert bindings == {"o-refused", "o-quota"}  # 40003: the binding is gone
    assert (await delivery("e-quota")).status == "queued"
    clock.clock.advance(timedelta(minutes=1))  # past the outbox backoff
    assert await dispatch_due() == ["sent"]
    assert (await delivery("e-quota")).status == "sent"
    assert [s["touser"] for s in wx.sent] == ["o-quota"]


async def test_official_account_template_messages_need_no_grant(wx, monkeypatch):
    monkeypatch.setenv("PORTAL_WECHAT_SEND_APP", "official_account")
    reset_messaging_settings()
    patient = await bound_patient(wx, "oa-openid-1", app="official_account")
    result = await send(patient, "您报名的健康讲座明天开始", ref="oa-1", link="https://m.kangning.example/e/1")
    assert result.status == "queued"
    assert await dispatch_due() == ["sent"]
    [sent] = wx.sent
    assert (sent["path"], sent["touser"], sent["url"]) == (
        "/cgi-bin/message/template/send",
        "oa-openid-1",
        "https://m.kangning.example/e/1",
    )


# --- WeChat's own receipts (message push) -------------------------------------------------------------


def signed(token: str = PUSH_TOKEN, **extra: str) -> str:
    timestamp, nonce = "1781496000", "8412635"
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    query = {"signature": signature, "timestamp": timestamp, "nonce": nonce, **extra}
    return "/hooks/wechat/events?" + "&".join(f"{k}={v}" for k, v in query.items())


async def test_wechat_pushes_are_verified_and_make_sent_messages_delivered(wx, client):
    echo = await client.get(signed(echostr="echo-123"))
    assert echo.status_code == 200 and echo.text == "echo-123"
    forged = await client.post(signed(token="not-the-token"), content=b"<xml></xml>")
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "CALLBACK_UNVERIFIED"
    assert (await client.post("/hooks/wechat/events", content=b"<xml></xml>")).status_code == 401

    patient = await bound_patient(wx, "o-push")
    await grant(patient, "TPL-NOTICE", "TPL-NOTICE", "TPL-MKT")
    await send(patient, "提醒一", ref="p1")
    await send(patient, "提醒二", ref="p2")
    await dispatch_due()
    one, two = (await delivery("p1")).provider_ref, (await delivery("p2")).provider_ref
    assert one and two and one.startswith("wechat:")
    sent_event = {
        "ToUserName": "gh_123",
        "FromUserName": "o-push",
        "CreateTime": 1781496000,
        "MsgType": "event",
        "Event": "subscribe_msg_sent_event",
        "List": {
            "TemplateId": "TPL-NOTICE",
            "MsgID": one.removeprefix("wechat:"),
            "ErrorCode": 0,
            "ErrorStatus": "success",
        },
    }
    answer = await client.post(signed(), content=json.dumps(sent_event).encode())
    assert answer.status_code == 200 and answer.text == "success"
    assert (await delivery("p1")).status == "delivered"
    xml = (
        "<xml><ToUserName><![CDATA[gh_123]]></ToUserName><FromUserName><![CDATA[o-push]]></FromUserName>"
        "<CreateTime>1781496001</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[subscribe_msg_sent_event]]></Event><SubscribeMsgSentEvent><List>"
        f"<TemplateId><![CDATA[TPL-NOTICE]]></TemplateId><MsgID><![CDATA[{two.removeprefix('wechat:')}]]></MsgID>"
        "<ErrorCode><![CDATA[10005]]></ErrorCode><ErrorStatus><![CDATA[fail]]></ErrorStatus>"
        "</List></SubscribeMsgSentEvent></xml>"
    )
    assert (await client.post(signed(), content=xml.encode())).text == "success"
    row = await delivery("p2")
    assert (row.status, row.error) == ("failed", "receipt:10005:fail")
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml>&a;</xml>'
    assert (await client.post(signed(), content=bomb)).status_code == 400

    # The user turns the marketing template off in WeChat's settings: its unspent grant is void.
    change = (
        "<xml><FromUserName><![CDATA[o-push]]></FromUserName><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[subscribe_msg_change_event]]></Event><SubscribeMsgChangeEvent><List>"
        "<TemplateId><![CDATA[TPL-MKT]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString>"
        "</List></SubscribeMsgChangeEvent></xml>"
    )
    await client.post(signed(), content=change.encode())
    assert await unused(patient) == 0
    result = await send(patient, "会员日", ref="p3", kind="marketing")
    assert (result.status, result.error) == ("delivered", "fallback:no_subscription")


async def test_official_account_job_finish_push_reports_delivery(wx, client, monkeypatch):
    monkeypatch.setenv("PORTAL_WECHAT_SEND_APP", "official_account")
    reset_messaging_settings()
    patient = await bound_patient(wx, "oa-openid-2", app="official_account")
    await send(patient, "讲座提醒", ref="oa-2")
    await dispatch_due()
    msgid = (await delivery("oa-2")).provider_ref.removeprefix("wechat:")
    xml = (
        "<xml><ToUserName><![CDATA[gh_oa]]></ToUserName><FromUserName><![CDATA[oa-openid-2]]></FromUserName>"
        "<CreateTime>1781496002</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>{msgid}</MsgID>"
        "<Status><![CDATA[success]]></Status></xml>"
    )
    assert (await client.post(signed(), content=xml.encode())).text == "success"
    assert (await delivery("oa-2")).status == "delivered"
