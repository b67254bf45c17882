"""Payload errors carry their domain's code enum (api/error_types.py): every payload uses one of the
domain error types, each type's enum holds exactly the codes of the domains its mutation modules import
(directly or through others), and the codes reach clients over HTTP as enum values."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import grimp
import pytest
import structlog
from graphql import GraphQLEnumType, GraphQLList, GraphQLNonNull, GraphQLObjectType

from api.error_types import CODES, DOMAIN_CODES, CommunityError, payload_errors
from api.errors import UserError
from api.schema import schema
from core.errors import CoreCode, DomainError, ErrorCode
from tests.api.test_error_codes import DOMAINS, _enums
from tests.support import gql, signed_in_patient

PACKAGES = ("api", *DOMAINS)


def _payloads() -> dict[str, type]:
    """Every schema type with an `errors` field -> its Python class."""
    found: dict[str, type] = {}
    for name, graphql_type in schema._schema.type_map.items():
        if isinstance(graphql_type, GraphQLObjectType) and "errors" in graphql_type.fields:
            definition = schema.get_type_by_name(name)
            assert definition is not None, name
            found[name] = definition.origin
    return found


def _error_type_name(graphql_type: GraphQLObjectType) -> str:
    errors = graphql_type.fields["errors"].type
    assert isinstance(errors, GraphQLNonNull) and isinstance(errors.of_type, GraphQLList)
    item = errors.of_type.of_type
    assert isinstance(item, GraphQLNonNull)
    return str(item.of_type.name)


def test_every_payload_uses_a_domain_error_type_with_an_enum_code() -> None:
    payloads = _payloads()
    assert len(payloads) > 60
    domain_types = {error.__name__ for error in CODES}
    for name in payloads:
        error_name = _error_type_name(schema._schema.type_map[name])
        assert error_name in domain_types, f"{name}.errors is [{error_name}], not a domain error type"
        error_type = schema._schema.type_map[error_name]
        assert isinstance(error_type, GraphQLObjectType)
        code = error_type.fields["code"].type
        assert isinstance(code, GraphQLNonNull) and isinstance(code.of_type, GraphQLEnumType)
        assert code.of_type.name == error_name + "Code"
        assert all(value.description for value in code.of_type.values.values())


def test_each_error_type_lists_exactly_the_codes_its_mutation_modules_reach() -> None:
    """A mutation can raise what its module can import: the ErrorCode enums defined in the modules
    upstream of it in the import graph. The union over the payloads of one error type is its list."""
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    graph.remove_module("api.error_types")  # it imports every enum to list them; it raises none
    enum_homes = {enum.__module__: enum for enum in _enums()}
    reached: dict[str, set[type[ErrorCode]]] = {name: set() for name in DOMAIN_CODES}
    for name, origin in _payloads().items():
        module = inspect.getmodule(origin)
        assert module is not None
        upstream = graph.find_upstream_modules(module.__name__) | {module.__name__}
        error_name = _error_type_name(schema._schema.type_map[name]).removesuffix("Error")
        reached[error_name] |= {enum for home, enum in enum_homes.items() if home in upstream}
    for name, enums in DOMAIN_CODES.items():
        listed = {enum.__name__ for enum in enums}
        assert listed == {enum.__name__ for enum in reached[name]}, f"{name}Error: update DOMAIN_CODES"


def test_a_code_outside_the_payload_enum_answers_invalid_and_is_logged() -> None:
    group_payload = importlib.import_module("api.community.groups").GroupPayload

    class Stray(DomainError):
        code = "SOMETHING_UNLISTED"

    with structlog.testing.capture_logs() as logs:
        errors = payload_errors(group_payload, Stray("出错了", field="x"))
    assert [(e.code, e.message, e.field) for e in errors] == [(CoreCode.INVALID, "出错了", "x")]
    assert isinstance(errors[0], CommunityError) and isinstance(errors[0], UserError)
    assert any(entry["event"] == "error_code_outside_payload_enum" for entry in logs)


@pytest.mark.parametrize("bad_id", ["R3JvdXA6bm90LWEtdXVpZA==", "nonsense"])
async def test_a_mutation_error_arrives_as_an_enum_value_over_http(client: Any, bad_id: str) -> None:
    session, _ = await signed_in_patient(client)
    result = await gql(
        client,
        "mutation($id: ID!) { groupJoin(input: {groupId: $id}) { membership { id } errors { field code message } } }",
        {"id": bad_id},
        token=session.access,
    )
    assert "errors" not in result, result
    errors = result["data"]["groupJoin"]["errors"]
    assert len(errors) == 1 and errors[0]["field"] == "groupId" and errors[0]["message"]
    assert errors[0]["code"] in CODES[CommunityError]
    introspection = await gql(client, '{ __type(name: "CommunityErrorCode") { kind enumValues { name description } } }')
    described = introspection["data"]["__type"]
    assert described["kind"] == "ENUM"
    assert errors[0]["code"] in {value["name"] for value in described["enumValues"]}


def test_every_model_payload_builds_its_first_field_with_from_model() -> None:
    from api.mutations import ModelPayload, _model_field

    importlib.import_module("api.schema")
    payloads = ModelPayload.__subclasses__()
    assert len(payloads) > 20
    for payload in payloads:
        name, from_model = _model_field(payload)
        assert name != "errors" and callable(from_model), payload.__name__


def test_every_value_payload_fills_its_first_field_with_the_value() -> None:
    from api.mutations import ValuePayload

    importlib.import_module("api.schema")
    payloads = ValuePayload.__subclasses__()
    assert len(payloads) >= 6
    no_info: Any = None  # `of` does not read the request
    for payload in payloads:
        fields = vars(payload.of(True, no_info))
        first = next(iter(fields))
        assert first != "errors" and fields[first] is True and fields["errors"] == [], payload.__name__
