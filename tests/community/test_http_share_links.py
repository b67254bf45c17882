"""Share links through the real schema and the public /s/{code} page, with signed-in patients and staff:
the preview of an anonymous post in a members-only group holds no personal data and carries the
sharer's referral code into registration; public posts, articles and events show their title; clicks
are counted; unknown, tampered and expired codes are 404 in JSON and HTML; who may not share."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from api.relay import to_global_id
from community import events, sharing
from community.models import ShareLink
from core import clock
from core.db import unit_of_work
from core.identity import Role
from tests.content.support import article, publish
from tests.factories import make_group, member_of, next_phone, staff
from tests.support import REQUEST_CODE, data, gql, last_code, signed_in_patient, staff_session

CREATE = """mutation($t: ID!) { shareLinkCreate(input: {targetId: $t}) {
  shareLink { code url referralCode clicks createdAt expiresAt } errors { field code } } }"""
POST = """mutation($g: ID!, $title: String!, $body: String!, $anon: Boolean!) {
  postCreate(input: {groupId: $g, kind: EXPERIENCE, title: $title, body: $body, anonymous: $anon}) {
    post { id } errors { code } } }"""
ME = "{ me { ... on Patient { nickname referralCode } } }"
SIGN_IN_REFERRED = """mutation($phone: String!, $code: String!, $ref: String) {
  authSignIn(input: {phone: $phone, code: $code, referralCode: $ref}) { registered errors { code } } }"""
REFERRALS = "{ myReferrals(first: 5) { edges { node { status } } } }"


def _codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


async def _post(client: Any, token: str, group: uuid.UUID, title: str, body: str, *, anon: bool) -> str:
    variables = {"g": to_global_id("Group", group), "title": title, "body": body, "anon": anon}
    made = data(await gql(client, POST, variables, token=token))["postCreate"]
    assert made["errors"] == [], made
    return str(made["post"]["id"])


async def _share(client: Any, token: str | None, target: str) -> dict[str, Any]:
    return data(await gql(client, CREATE, {"t": target}, token=token))["shareLinkCreate"]


async def _preview(client: Any, code: str) -> dict[str, Any]:
    response = await client.get(f"/s/{code}", headers={"accept": "application/json"})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()


async def test_an_anonymous_post_in_a_members_group_previews_without_personal_data(client: Any) -> None:
    group = await make_group(name="乳腺癌术后康复群", visibility="members", allow_anonymous=True, alias_prefix="康友")
    author, author_id = await signed_in_patient(client)
    await member_of(group, author_id)
    sharer, sharer_id = await signed_in_patient(client)
    await member_of(group, sharer_id)
    title, body = "化疗第三周的感受", "白细胞降到2.1，医生让我打升白针，头发也开始掉了。"
    post = await _post(client, author.access, group, title, body, anon=True)

    made = await _share(client, sharer.access, post)
    assert made["errors"] == []
    link = made["shareLink"]
    me = data(await gql(client, ME, token=sharer.access))["me"]
    assert link["referralCode"] == me["referralCode"] and link["referralCode"]
    assert len(link["code"]) == sharing.CODE_LENGTH and link["code"].isalnum()
    assert link["url"].endswith(f"/s/{link['code']}") and link["clicks"] == 0
    assert (await _share(client, sharer.access, post))["shareLink"]["code"] == link["code"]  # one per sharer

    preview = await _preview(client, link["code"])
    assert preview["kind"] == "POST" and preview["public"] is False and preview["available"] is True
    assert preview["groupName"] == "乳腺癌术后康复群" and "乳腺癌术后康复群" in preview["title"]
    assert preview["referralCode"] == me["referralCode"]
    author_name = data(await gql(client, ME, token=author.access))["me"]["nickname"]
    everything = str(preview)
    for secret in (title, "白细胞", "升白针", "康友#", author_name, me["nickname"], author.id, sharer.id):
        assert secret not in everything, secret

    page = await client.get(f"/s/{link['code']}", headers={"accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<meta property="og:title"' in page.text and '<meta property="og:description"' in page.text
    assert me["referralCode"] in page.text and 'content="noindex"' in page.text
    for secret in (title, "白细胞", "康友#", author_name):
        assert secret not in page.text, secret

    # Clicks counted (the two opens above).
    assert (await _share(client, sharer.access, post))["shareLink"]["clicks"] == 2

    # The referral code carried by the preview registers a friend as referred by the sharer.
    friend = next_phone()
    await gql(client, REQUEST_CODE, {"phone": friend})
    signed = await gql(
        client, SIGN_IN_REFERRED, {"phone": friend, "code": await last_code(friend), "ref": preview["referralCode"]}
    )
    assert data(signed)["authSignIn"] == {"registered": True, "errors": []}
    referrals = data(await gql(client, REFERRALS, token=sharer.access))["myReferrals"]["edges"]
    assert [e["node"]["status"] for e in referrals] == ["ATTRIBUTED"]


async def test_public_targets_show_their_title_and_never_an_author(client: Any) -> None:
    group = await make_group(name="高血压友社群", visibility="public", allow_anonymous=True)
    author, author_id = await signed_in_patient(client)
    await member_of(group, author_id)
    named = await _post(client, author.access, group, "我的降压食谱", "**芹菜**和木耳，每天一次。", anon=False)
    anonymous = await _post(client, author.access, group, "夜里血压高", "睡前量了160。", anon=True)
    author_name = data(await gql(client, ME, token=author.access))["me"]["nickname"]

    for post, title, excerpt in (
        (named, "我的降压食谱", "芹菜 和木耳，每天一次。"),
        (anonymous, "夜里血压高", "睡前量了160。"),
    ):
        code = (await _share(client, author.access, post))["shareLink"]["code"]
        preview = await _preview(client, code)
        assert (preview["title"], preview["excerpt"], preview["groupName"]) == (title, excerpt, "高血压友社群")
        assert preview["public"] is True and author_name not in str(preview) and "#" not in str(preview)

    public_article = await publish(article(title="高血压饮食指南", summary="少盐多菜", condition_codes=[]))
    targeted = await publish(article(title="糖尿病足护理", gate="members"))  # members only
    marketer = await staff_session(client, f"mkt-{uuid.uuid4().hex[:8]}@example.cn", ["marketer"])
    shown = await _preview(
        client,
        (await _share(client, marketer.access, to_global_id("ContentItem", public_article)))["shareLink"]["code"],
    )
    assert (shown["kind"], shown["title"], shown["excerpt"], shown["referralCode"]) == (
        "ARTICLE",
        "高血压饮食指南",
        "少盐多菜",
        None,  # staff have no referral code
    )
    gated = await _preview(
        client, (await _share(client, marketer.access, to_global_id("ContentItem", targeted)))["shareLink"]["code"]
    )
    assert gated["public"] is False and "糖尿病足" not in str(gated)

    now = clock.now()
    async with unit_of_work() as session:
        site_event = (
            await events.create_event(
                session,
                staff(Role.MARKETER),
                events.EventInput(
                    kind="offline",
                    title="控压义诊日",
                    starts_at=now + timedelta(days=3),
                    ends_at=now + timedelta(days=3, hours=2),
                    location="门诊楼一层大厅",
                    online_link=None,
                ),
            )
        )[0]
        members_group = await make_group(name="肾友会", visibility="members")
        group_event = (
            await events.create_event(
                session,
                staff(Role.MARKETER),
                events.EventInput(
                    kind="online_lecture",
                    title="透析患者饮食讲座",
                    starts_at=now + timedelta(days=5),
                    ends_at=now + timedelta(days=5, hours=1),
                    online_link="https://live.example.cn/room/1",
                    group_id=members_group,
                ),
            )
        )[0]
    shared = await _share(client, author.access, to_global_id("Event", site_event.id))
    event_preview = await _preview(client, shared["shareLink"]["code"])
    assert event_preview["title"] == "控压义诊日" and "门诊楼一层大厅" in event_preview["excerpt"]
    await member_of(members_group, author_id)
    shared = await _share(client, author.access, to_global_id("Event", group_event.id))
    lecture = await _preview(client, shared["shareLink"]["code"])
    assert lecture["groupName"] == "肾友会" and "透析" not in str(lecture) and "live.example.cn" not in str(lecture)


async def test_unknown_tampered_and_expired_codes_are_404_and_refusals(client: Any) -> None:
    group = await make_group(visibility="members")
    author, author_id = await signed_in_patient(client)
    await member_of(group, author_id)
    post = await _post(client, author.access, group, "群内讨论", "只给群友看", anon=False)
    code = (await _share(client, author.access, post))["shareLink"]["code"]

    tampered = code[:-1] + ("A" if code[-1] != "A" else "B")
    unknown = sharing.new_code()  # well signed, never stored
    for bad in (unknown, tampered, "abc", "x" * 500, "%00", code.lower() if code.lower() != code else code + "1"):
        response = await client.get(f"/s/{bad}", headers={"accept": "application/json"})
        assert response.status_code == 404, bad
        assert response.json()["errors"][0]["extensions"]["code"] == "SHARE_LINK_NOT_FOUND"
        page = await client.get(f"/s/{bad}")
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "分享链接不存在或已过期" in page.text

    # Expired (the clock is not moved: the sign-in would expire too).
    async with unit_of_work() as session:
        await session.execute(
            update(ShareLink).where(ShareLink.code == code).values(expires_at=clock.now() - timedelta(seconds=1))
        )
    expired = await client.get(f"/s/{code}?format=json")
    assert expired.status_code == 404 and expired.json()["errors"][0]["extensions"]["code"] == "SHARE_LINK_NOT_FOUND"
    renewed = (await _share(client, author.access, post))["shareLink"]
    assert renewed["code"] != code and renewed["clicks"] == 0
    assert (await client.get(f"/s/{renewed['code']}?format=json")).status_code == 200
    assert (await client.get(f"/s/{code}?format=json")).status_code == 404
    async with unit_of_work() as session:
        stored = list(await session.scalars(select(ShareLink)))
    assert [(s.code, s.expires_at - s.created_at) for s in stored] == [(renewed["code"], sharing.LIFETIME)]

    # Who may not share, and malformed ids.
    outsider, _ = await signed_in_patient(client)
    refused = await _share(client, outsider.access, post)
    assert _codes(refused) == ["POST_NOT_FOUND"] and refused["shareLink"] is None
    assert _codes(await _share(client, None, post)) == ["NOT_AUTHENTICATED"]
    for bad in ("not-an-id", to_global_id("Comment", uuid.uuid4()), to_global_id("Group", uuid.uuid4())):
        payload = await _share(client, outsider.access, bad)
        assert _codes(payload) == ["ID_INVALID"] and payload["errors"][0]["field"] == "targetId"
    assert _codes(await _share(client, outsider.access, to_global_id("Event", uuid.uuid4()))) == ["EVENT_NOT_FOUND"]
    missing = await _share(client, outsider.access, to_global_id("ContentItem", uuid.uuid4()))
    assert _codes(missing) == ["CONTENT_NOT_FOUND"]
    nul = await gql(client, CREATE, {"t": "UG9zdDo\x00"}, token=outsider.access)
    assert nul["errors"][0]["extensions"]["code"] == "INVALID_STRING"

    # A post removed after sharing: the link answers that it is gone, nothing of the post.
    await gql(
        client,
        "mutation($p: ID!) { postDelete(input: {postId: $p}) { errors { code } } }",
        {"p": post},
        token=author.access,
    )
    gone = await _preview(client, renewed["code"])
    assert gone["available"] is False and "群内讨论" not in str(gone)
