"""The GraphQL input boundary: what a client sends is checked before any resolver sees it.

graphql-core coerces variables before execution and reports a bad one (a string for an Int, an
object for a String, a missing required variable, 2**40 for an Int) as a GraphQLError whose
`original_error` is the coercion failure; api/errors.py masks every error with an original error
as unexpected, so those client mistakes reached clients as INTERNAL_ERROR. Here they are re-raised
as plain request errors (code BAD_REQUEST), like the validation errors they are.

Strings that PostgreSQL text cannot hold (NUL, and lone UTF-16 surrogates that UTF-8 cannot encode)
are refused here for every argument at once, literal or variable: asyncpg raises on them deep in a
service, mid-transaction. The built-in String scalar cannot be overridden (graphql-core forbids
redefining reserved types), so the check walks the raw variables and the document's string literals.
"""

from __future__ import annotations

import re
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    Node,
    StringValueNode,
    Undefined,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

INVALID_STRING = "INVALID_STRING"
INVALID_STRING_MESSAGE = "输入中含有不允许的字符（如空字符），请删除后重试"
BAD_REQUEST = "BAD_REQUEST"

# NUL: PostgreSQL text and jsonb refuse it. Surrogates: not encodable as UTF-8, so asyncpg fails.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Raw variables are plain JSON; the bound keeps a hostile, deeply nested value from costing more
# than the walk over what graphql-core would coerce anyway (it stops at its own nesting limit).
_MAX_WALK_DEPTH = 64


def _unstorable_path(value: Any, path: list[str | int], depth: int = 0) -> list[str | int] | None:
    if isinstance(value, str):
        return path if _UNSTORABLE.search(value) else None
    if depth > _MAX_WALK_DEPTH:
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _UNSTORABLE.search(key):
                return [*path, key]
            found = _unstorable_path(item, [*path, key], depth + 1)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _unstorable_path(item, [*path, index], depth + 1)
            if found is not None:
                return found
    return None


def _unstorable_literal(document: DocumentNode) -> StringValueNode | None:
    # An explicit stack over the node tree: a few hundred nodes for a real query, cheaper than
    # graphql's visitor machinery, and no recursion limit for a deeply nested document.
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, StringValueNode):
            if _UNSTORABLE.search(node.value):
                return node
            continue
        for key in node.keys:
            if key == "loc":
                continue
            child = getattr(node, key, None)
            if isinstance(child, Node):
                stack.append(child)
            elif isinstance(child, tuple | list):
                stack.extend(c for c in child if isinstance(c, Node))
    return None


# The literal check per parsed document (the parser cache hands out the same object for the same text,
# so a repeated query is walked once, not on every request); bounded like that cache.
_CHECKED: dict[int, tuple[DocumentNode, StringValueNode | None]] = {}
MAX_CHECKED = 512


def _unstorable_literal_of(document: DocumentNode) -> StringValueNode | None:
    hit = _CHECKED.get(id(document))
    if hit is not None and hit[0] is document:
        return hit[1]
    found = _unstorable_literal(document)
    if len(_CHECKED) >= MAX_CHECKED:
        _CHECKED.clear()
    _CHECKED[id(document)] = (document, found)
    return found


def _client_error(error: GraphQLError) -> GraphQLError:
    """The same message and location, without the original error that makes it look unexpected."""
    original = error.original_error
    code = (error.extensions or {}).get("code") or (
        (original.extensions or {}).get("code") if isinstance(original, GraphQLError) else None
    )
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), "code": code or BAD_REQUEST},
    )


_NOT_PLAIN = ("", None)


def _plain_leaf(field: GraphQLField) -> tuple[str, Any]:
    """(attribute name, leaf type) for a field that strawberry resolves by reading an attribute of its
    source (a basic field: no resolver, permission class or field extension) and that returns a scalar
    or an enum; `_NOT_PLAIN` for any other field."""
    definition = (field.extensions or {}).get("strawberry-definition")
    resolve = field.resolve
    if (
        definition is None
        or resolve is None
        or not getattr(resolve, "_is_default", False)
        or not definition.is_basic_field
        or definition.extensions
        or definition.default_resolver is not getattr
        or field.args
    ):
        return _NOT_PLAIN
    leaf = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    if not isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
        return _NOT_PLAIN
    return definition.python_name, leaf


_PLAIN: dict[int, tuple[GraphQLField, tuple[str, Any]]] = {}


class PortalExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        """A scalar or enum read from an attribute (most fields of a feed card) is read and serialised
        here, without the resolve info, resolver chain and completion dispatch graphql-core spends on
        every field (~5-7% of a feed request's API CPU). Anything else, and any value that is null, an
        awaitable, an error or fails to serialise, takes graphql-core's own path, which handles it."""
        node = field_details_list[0].node
        if not node.arguments and self.middleware_manager is None:
            field = parent_type.fields.get(node.name.value)
            if field is not None:
                cached = _PLAIN.get(id(field))
                if cached is None or cached[0] is not field:
                    cached = _PLAIN[id(field)] = (field, _plain_leaf(field))
                name, leaf = cached[1]
                if leaf is not None:
                    value = getattr(source, name, None)
                    if value is not None and not isinstance(value, Exception) and not self.is_awaitable(value):
                        try:
                            coerced = leaf.coerce_output_value(value)
                        except Exception:  # graphql-core's own path raises it as a located error
                            coerced = None
                        if coerced is not None and coerced is not Undefined:
                            return coerced
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    @classmethod
    def build(
        cls,
        schema: GraphQLSchema,
        document: DocumentNode,
        root_value: Any = None,
        context_value: Any = None,
        raw_variable_values: dict[str, Any] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        literal = _unstorable_literal_of(document)
        if literal is not None:
            return [GraphQLError(INVALID_STRING_MESSAGE, nodes=literal, extensions={"code": INVALID_STRING})]
        if raw_variable_values:
            path = _unstorable_path(raw_variable_values, [])
            if path is not None:
                where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
                return [
                    GraphQLError(
                        f"{INVALID_STRING_MESSAGE}（变量 ${where}）",
                        extensions={"code": INVALID_STRING, "variable": where},
                    )
                ]
        built = super().build(schema, document, root_value, context_value, raw_variable_values, *args, **kwargs)
        if isinstance(built, list):
            return [_client_error(e) for e in built]
        return built
