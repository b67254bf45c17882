"""GraphQL conventions: permissions, limits, masking, concurrency, statement counts, schema drift."""

from __future__ import annotations

import asyncio

import pytest

from api.errors import INTERNAL_MESSAGE
from cli.main import SCHEMA_PATH, schema_sdl
from core.db import unit_of_work
from core.identity import SYSTEM
from patients import queries, service
from tests.support import count_statements, data, gql, patient_session, staff_session

STAFF_CREATE = """mutation($email: String!) { staffCreate(input: {email: $email, name: "新员工",
  password: "long-enough-pw", roles: [MARKETER]}) { staff { email roles } errors { field code message } } }"""
SITE_CREATE = """mutation { siteCreate(input: {code: "KN-NEW", name: "新院区", kind: CAMPUS}) {
  site { code name kindLabel } errors { field code message } } }"""


def test_schema_file_matches_running_schema():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_sdl(), "run `portal export-schema` and commit"


async def test_patient_may_not_call_staff_mutations(client, unique_phone):
    patient = await patient_session(client, unique_phone)
    for query, name in ((STAFF_CREATE, "staffCreate"), (SITE_CREATE, "siteCreate")):
        r = data(await gql(client, query, {"email": "x@example.cn"}, token=patient.access))[name]
        assert r["errors"] == [{"field": None, "code": "PERMISSION_DENIED", "message": "您没有权限执行此操作"}]
    anonymous = data(await gql(client, SITE_CREATE))["siteCreate"]
    assert anonymous["errors"][0]["code"] == "NOT_AUTHENTICATED"
    listed = await gql(client, "{ patients(first: 5) { edges { node { id } } } }", token=patient.access)
    assert listed["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"


async def test_marketer_may_not_create_staff_but_admin_may(client):
    marketer = await staff_session(client, "m@example.cn", ["marketer"])
    r = data(await gql(client, STAFF_CREATE, {"email": "new@example.cn"}, token=marketer.access))["staffCreate"]
    assert r["errors"][0]["code"] == "PERMISSION_DENIED"
    admin = await staff_session(client, "a@example.cn", ["admin"])
    r = data(await gql(client, STAFF_CREATE, {"email": "new@example.cn"}, token=admin.access))["staffCreate"]
    assert r == {"staff": {"email": "new@example.cn", "roles": ["MARKETER"]}, "errors": []}
    dup = data(await gql(client, STAFF_CREATE, {"email": "NEW@example.cn"}, token=admin.access))["staffCreate"]
    assert dup["errors"][0]["code"] == "EMAIL_TAKEN"
    site = data(await gql(client, SITE_CREATE, token=admin.access))["siteCreate"]
    assert site == {"site": {"code": "KN-NEW", "name": "新院区", "kindLabel": "院区"}, "errors": []}


async def test_node_rechecks_permission(client, unique_phone):
    alice = await patient_session(client, unique_phone)
    bob = await patient_session(client, "13700001234")
    query = "query($id: ID!) { node(id: $id) { id ... on Patient { nickname realName } } }"
    assert data(await gql(client, query, {"id": alice.id}, token=alice.access))["node"]["id"] == alice.id
    assert data(await gql(client, query, {"id": alice.id}, token=bob.access))["node"] is None
    assert data(await gql(client, query, {"id": alice.id}))["node"] is None
    assert data(await gql(client, query, {"id": "not-a-global-id"}, token=alice.access))["node"] is None
    doctor = await staff_session(client, "doc@example.cn", ["doctor"])
    marketer = await staff_session(client, "mk@example.cn", ["marketer"])
    nodes = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Patient { id realName phone } } }"
    seen = data(await gql(client, nodes, {"ids": [alice.id, bob.id]}, token=doctor.access))["nodes"]
    assert [n["id"] for n in seen] == [alice.id, bob.id]
    # Marketers see the member but not the private fields.
    masked = data(await gql(client, nodes, {"ids": [alice.id]}, token=marketer.access))["nodes"][0]
    assert masked["realName"] is None and "****" in masked["phone"]


async def test_profile_update_validates_and_care_staff_may_edit(client, unique_phone):
    patient = await patient_session(client, unique_phone)
    update = """mutation($input: ProfileUpdateInput!) { profileUpdate(input: $input) {
      patient { nickname realName birthYear gender timezone conditions { code name } } errors { field code } } }"""
    bad = data(
        await gql(
            client,
            update,
            {
                "input": {
                    "nickname": "a",
                    "birthYear": 1800,
                    "timezone": "Mars/Base",
                    "conditionCodes": ["diabetes", "nope"],
                }
            },
            token=patient.access,
        )
    )
    assert {e["field"] for e in bad["profileUpdate"]["errors"]} == {
        "nickname",
        "birthYear",
        "timezone",
        "conditionCodes",
    }
    ok = data(
        await gql(
            client,
            update,
            {
                "input": {
                    "nickname": "糖友老李",
                    "realName": "李四",
                    "birthYear": 1970,
                    "gender": "MALE",
                    "conditionCodes": ["diabetes"],
                }
            },
            token=patient.access,
        )
    )["profileUpdate"]
    assert ok["errors"] == []
    assert ok["patient"] == {
        "nickname": "糖友老李",
        "realName": "李四",
        "birthYear": 1970,
        "gender": "MALE",
        "timezone": "Asia/Shanghai",
        "conditions": [{"code": "diabetes", "name": "糖尿病"}],
    }
    marketer = await staff_session(client, "mk2@example.cn", ["marketer"])
    denied = data(
        await gql(client, update, {"input": {"patientId": patient.id, "nickname": "改名"}}, token=marketer.access)
    )["profileUpdate"]
    assert denied["errors"][0]["code"] == "PERMISSION_DENIED"
    manager = await staff_session(client, "hm@example.cn", ["health_manager"])
    done = data(
        await gql(client, update, {"input": {"patientId": patient.id, "birthYear": 1971}}, token=manager.access)
    )["profileUpdate"]
    assert done["errors"] == [] and done["patient"]["birthYear"] == 1971 and done["patient"]["nickname"] == "糖友老李"
    contact = """mutation($input: ProfileUpdateInput!) { profileUpdate(input: $input) {
      patient { email birthDate } errors { field code } } }"""
    bad_email = data(await gql(client, contact, {"input": {"email": "not-an-address"}}, token=patient.access))
    assert [e["field"] for e in bad_email["profileUpdate"]["errors"]] == ["email"]
    got = data(
        await gql(
            client, contact, {"input": {"email": "li@example.cn", "birthDate": "1971-03-08"}}, token=patient.access
        )
    )["profileUpdate"]
    assert got == {"patient": {"email": "li@example.cn", "birthDate": "1971-03-08"}, "errors": []}
    # Private to the patient and the care team: a marketer sees neither.
    seen = "query($id: ID!) { node(id: $id) { ... on Patient { email birthDate } } }"
    assert data(await gql(client, seen, {"id": patient.id}, token=marketer.access))["node"] == {
        "email": None,
        "birthDate": None,
    }


async def test_consent_update_records_current_state(client, unique_phone):
    patient = await patient_session(client, unique_phone)
    mutation = """mutation($items: [ConsentItemInput!]!) { consentUpdate(input: {items: $items, source: APP}) {
      patient { consents { channel purpose granted source } } errors { code } } }"""
    items = [
        {"channel": "SMS", "purpose": "MARKETING", "granted": True, "noticeVersion": 2},
        {"channel": "WECHAT", "purpose": "SERVICE", "granted": True, "noticeVersion": 1},
    ]  # the seeded notices: 1 service, 2 marketing (patients/notices.py)
    r = data(await gql(client, mutation, {"items": items}, token=patient.access))["consentUpdate"]
    assert r["errors"] == []
    states = {(c["channel"], c["purpose"]): c["granted"] for c in r["patient"]["consents"]}
    assert states == {("IN_APP", "SERVICE"): True, ("SMS", "MARKETING"): True, ("WECHAT", "SERVICE"): True}
    r = data(
        await gql(
            client,
            mutation,
            {"items": [{"channel": "SMS", "purpose": "MARKETING", "granted": False, "noticeVersion": 2}]},
            token=patient.access,
        )
    )["consentUpdate"]
    states = {(c["channel"], c["purpose"]): c["granted"] for c in r["patient"]["consents"]}
    assert states[("SMS", "MARKETING")] is False
    empty = data(await gql(client, mutation, {"items": []}, token=patient.access))["consentUpdate"]
    assert empty["errors"][0]["code"] == "CONSENT_EMPTY"


async def test_over_deep_query_is_refused(client):
    shallow = "{ me { ... on Patient { homeSite { name } } } }"
    assert "errors" not in await gql(client, shallow)
    # No type is recursive yet, so the deep document is also invalid; the depth rule must still fire.
    deep = "{ sites { " + "edges { node { " * 8 + "id" + " } }" * 8 + " } }"
    r = await gql(client, deep)
    assert any("exceeds maximum operation depth" in e["message"] for e in r["errors"]), r
    assert r.get("data") is None


async def test_alias_bomb_and_token_flood_are_refused(client):
    bomb = "{ " + " ".join(f"a{i}: conditions {{ code }}" for i in range(50)) + " }"
    r = await gql(client, bomb)
    assert r["errors"] and "aliases" in r["errors"][0]["message"]
    via_fragment = "query { ...F } fragment F on Query { " + " ".join(f"b{i}: __typename" for i in range(50)) + " }"
    r = await gql(client, via_fragment)
    assert r["errors"] and "aliases" in r["errors"][0]["message"]
    flood = "{ conditions { " + " ".join(["code"] * 4000) + " } }"
    r = await gql(client, flood)
    assert r["errors"] and "token" in r["errors"][0]["message"].lower()


async def test_repeated_queries_skip_parsing_and_validation_but_limits_still_hold(client):
    """Parsed documents and validation results are cached per query text; a refused query stays refused."""
    from strawberry.extensions.parser_cache import _get_parse_cache
    from strawberry.extensions.validation_cache import _get_validate_cache

    from api.schema import QUERY_CACHE_SIZE

    parse, validate = _get_parse_cache(QUERY_CACHE_SIZE), _get_validate_cache(QUERY_CACHE_SIZE)
    query = "query Repeat { conditions { code name } }"
    first = data(await gql(client, query))
    before = parse.cache_info().hits, validate.cache_info().hits
    for _ in range(3):
        assert data(await gql(client, query)) == first
    assert parse.cache_info().hits - before[0] >= 3 and validate.cache_info().hits - before[1] >= 3

    deep = "{ sites { " + "edges { node { " * 8 + "id" + " } }" * 8 + " } }"
    bomb = "{ " + " ".join(f"a{i}: conditions {{ code }}" for i in range(50)) + " }"
    flood = "{ conditions { " + " ".join(["code"] * 4000) + " } }"
    for _ in range(3):
        r = await gql(client, deep)
        assert r.get("data") is None and any("exceeds maximum operation depth" in e["message"] for e in r["errors"])
        r = await gql(client, bomb)
        assert r.get("data") is None and "aliases" in r["errors"][0]["message"]
        r = await gql(client, flood)
        assert r.get("data") is None and "token" in r["errors"][0]["message"].lower()


async def test_unexpected_exception_is_masked_with_request_id(client, monkeypatch):
    async def broken(session):
        raise RuntimeError("password=hunter2 at db-internal-host")

    monkeypatch.setattr(queries, "list_conditions", broken)
    response = await client.post(
        "/graphql", json={"query": "{ conditions { code } }"}, headers={"x-request-id": "req-12345"}
    )
    body = response.json()
    assert response.headers["x-request-id"] == "req-12345"
    error = body["errors"][0]
    assert error["message"] == INTERNAL_MESSAGE
    assert error["extensions"] == {"code": "INTERNAL_ERROR", "requestId": "req-12345"}
    assert "hunter2" not in response.text and "Traceback" not in response.text


async def test_twenty_concurrent_requests_with_several_root_fields(client, unique_phone):
    patient = await patient_session(client, unique_phone)
    async with unit_of_work() as session:
        for i in range(3):
            await service.create_site(session, SYSTEM, code=f"S{i}", name=f"院区{i}", kind="clinic")
    query = """query($id: ID!) {
      me { ... on Patient { id nickname conditions { code } consents { channel } homeSite { name } } }
      conditions { code name }
      sites(first: 10) { edges { node { id code name } } }
      node(id: $id) { id }
      other: conditions { code }
    }"""
    results = await asyncio.gather(*[gql(client, query, {"id": patient.id}, token=patient.access) for _ in range(20)])
    for r in results:
        d = data(r)
        assert d["me"]["id"] == patient.id and len(d["conditions"]) >= 10 and len(d["sites"]["edges"]) == 3


async def test_list_statement_count_does_not_grow_with_page_size(client):
    async with unit_of_work() as session:
        site = await service.create_site(session, SYSTEM, code="S1", name="院区", kind="campus")
        await session.flush()
        for i in range(30):
            p, _ = await service.register_patient(session, SYSTEM, phone=f"1360000{i:04d}")
            await service.update_profile(
                session,
                SYSTEM,
                service.ProfileChanges(condition_codes=["diabetes", "hypertension"], home_site_id=site.id),
                patient_id=p.id,
            )
    doctor = await staff_session(client, "doc2@example.cn", ["doctor"])
    query = """query($n: Int!) { patients(first: $n) { edges { cursor node { id nickname realName
      conditions { code } consents { channel granted } homeSite { name } } } pageInfo { hasNextPage endCursor } } }"""
    counts = {}
    for n in (2, 25):
        with count_statements() as counter:
            d = data(await gql(client, query, {"n": n}, token=doctor.access))
        assert len(d["patients"]["edges"]) == n
        counts[n] = counter.count
    assert counts[2] == counts[25], counts


async def test_keyset_pagination_walks_every_row_once(client):
    async with unit_of_work() as session:
        for i in range(7):
            await service.register_patient(session, SYSTEM, phone=f"1350000{i:04d}")
    doctor = await staff_session(client, "doc3@example.cn", ["doctor"])
    query = """query($after: String) { patients(first: 3, after: $after) {
      edges { node { id } } pageInfo { hasNextPage endCursor } } }"""
    seen, after = [], None
    while True:
        page = data(await gql(client, query, {"after": after}, token=doctor.access))["patients"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 7
    r = await gql(client, "{ patients(first: 101) { edges { cursor } } }", token=doctor.access)
    assert r["errors"][0]["extensions"]["code"] == "PAGE_SIZE_INVALID"
    r = await gql(client, '{ patients(first: 2, after: "garbage!") { edges { cursor } } }', token=doctor.access)
    assert r["errors"][0]["extensions"]["code"] == "CURSOR_INVALID"


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_health_endpoints(client, path):
    response = await client.get(path)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_metrics_endpoint_counts_requests(client):
    await client.get("/healthz")
    text = (await client.get("/metrics")).text
    assert 'portal_http_requests_total{method="GET",route="/healthz",status="200"}' in text


async def test_introspection_follows_the_setting(monkeypatch):
    from api.schema import build_schema
    from core.settings import reset_settings

    query = "{ __schema { queryType { name } } }"
    monkeypatch.setenv("PORTAL_GRAPHIQL", "false")
    reset_settings()
    try:
        closed = await build_schema().execute(query)
    finally:
        monkeypatch.delenv("PORTAL_GRAPHIQL")
        reset_settings()
    assert closed.errors and "introspection" in closed.errors[0].message.lower()
    opened = await build_schema().execute(query)
    assert opened.errors is None and opened.data == {"__schema": {"queryType": {"name": "Query"}}}
