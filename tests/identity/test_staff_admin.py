"""Staff administration over HTTP: an admin lists the staff and changes a member's roles, which ends
that member's sessions (tokens carry roles); nobody else may do either."""

from __future__ import annotations

import httpx

from tests.support import STAFF_PASSWORD, STAFF_SIGN_IN, data, gql, staff_session

ME = "{ me { __typename ... on Staff { email roles } } }"
STAFF_MEMBERS = """query($first: Int, $after: String) { staffMembers(first: $first, after: $after) {
  edges { node { id email active roles } } pageInfo { hasNextPage endCursor } } }"""
SET_ROLES = """mutation($id: ID!, $roles: [StaffRole!]!) { staffSetRoles(input: {staffId: $id, roles: $roles}) {
  staff { id email roles } errors { field code message } } }"""


async def test_admin_lists_the_staff_page_by_page(client: httpx.AsyncClient) -> None:
    admin = await staff_session(client, "admin-list@example.cn", ["admin"])
    await staff_session(client, "nurse-list@example.cn", ["clinic_staff"])
    await staff_session(client, "doctor-list@example.cn", ["doctor"])

    first = data(await gql(client, STAFF_MEMBERS, {"first": 2}, token=admin.access))["staffMembers"]
    assert len(first["edges"]) == 2 and first["pageInfo"]["hasNextPage"] is True
    rest = data(
        await gql(client, STAFF_MEMBERS, {"first": 2, "after": first["pageInfo"]["endCursor"]}, token=admin.access)
    )["staffMembers"]
    nodes = [e["node"] for e in first["edges"] + rest["edges"]]
    assert sorted(n["email"] for n in nodes) == [
        "admin-list@example.cn",
        "doctor-list@example.cn",
        "nurse-list@example.cn",
    ]
    assert {n["email"]: n["roles"] for n in nodes}["nurse-list@example.cn"] == ["CLINIC_STAFF"]
    assert all(n["active"] for n in nodes)


async def test_only_an_admin_may_list_the_staff(client: httpx.AsyncClient) -> None:
    nurse = await staff_session(client, "nurse-nolist@example.cn", ["clinic_staff"])
    refused = await gql(client, STAFF_MEMBERS, {"first": 5}, token=nurse.access)
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    anonymous = await gql(client, STAFF_MEMBERS, {"first": 5})
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"


async def test_admin_sets_roles_and_the_members_old_session_ends(client: httpx.AsyncClient) -> None:
    admin = await staff_session(client, "admin-roles@example.cn", ["admin"])
    nurse = await staff_session(client, "nurse-roles@example.cn", ["clinic_staff"])

    refused = data(await gql(client, SET_ROLES, {"id": admin.id, "roles": ["CLINIC_STAFF"]}, token=nurse.access))
    assert refused["staffSetRoles"]["errors"][0]["code"] == "PERMISSION_DENIED"

    done = data(await gql(client, SET_ROLES, {"id": nurse.id, "roles": ["DOCTOR", "CLINIC_STAFF"]}, token=admin.access))
    payload = done["staffSetRoles"]
    assert payload["errors"] == [], payload
    assert sorted(payload["staff"]["roles"]) == ["CLINIC_STAFF", "DOCTOR"]
    # The token carried the old roles: it no longer opens anything; a new sign-in has the new roles.
    revoked = await gql(client, ME, token=nurse.access, expect_status=401)
    assert revoked["errors"][0]["extensions"]["code"] == "ACCESS_TOKEN_REVOKED"
    signed = data(await gql(client, STAFF_SIGN_IN, {"email": "nurse-roles@example.cn", "password": STAFF_PASSWORD}))
    token = signed["authStaffSignIn"]["tokens"]["accessToken"]
    assert sorted(data(await gql(client, ME, token=token))["me"]["roles"]) == ["CLINIC_STAFF", "DOCTOR"]
