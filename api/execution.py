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

from api import plain

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


# Per schema field: (the field, the attribute strawberry reads or None, the leaf type or None).
_FIELDS: dict[int, tuple[GraphQLField, str | None, Any]] = {}


def _plain_field(field: GraphQLField) -> tuple[GraphQLField, str | None, Any]:
    hit = _FIELDS.get(id(field))
    if hit is None or hit[0] is not field:
        attribute = plain.attribute_of(field)
        inner = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        leaf = inner if isinstance(inner, GraphQLScalarType | GraphQLEnumType) else None
        hit = _FIELDS[id(field)] = (field, attribute, leaf)
    return hit


class PortalExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        """A field that reads an attribute is completed here (api/plain.py): a scalar or enum directly,
        an object or list of plain objects (a feed page) in one walk, without the resolve info,
        resolver chain and completion dispatch graphql-core spends on every field. Anything else, and
        any value the walk does not handle (null, awaitable, error, refused by its scalar), takes
        graphql-core's own path, which handles and reports it."""
        node = field_details_list[0].node
        # strawberry always passes a MiddlewareManager, empty unless an extension wraps resolvers.
        middleware = self.middleware_manager
        if not node.arguments and (middleware is None or not middleware.middlewares):
            field = parent_type.fields.get(node.name.value)
            if field is not None:
                _, attribute, leaf = _plain_field(field)
                if attribute is not None:
                    value = getattr(source, attribute, None)
                    if leaf is not None:
                        if value is not None and not isinstance(value, Exception) and not self.is_awaitable(value):
                            try:
                                coerced = leaf.coerce_output_value(value)
                            except Exception:  # graphql-core's own path raises it as a located error
                                coerced = None
                            if coerced is not None and coerced is not Undefined:
                                return coerced
                    else:
                        spec = plain.spec_of(self, field.type, field_details_list)
                        if spec is not None and hasattr(source, attribute):
                            try:
                                return plain.complete(spec, value, self.is_awaitable)
                            except Exception:  # Fallback, or a value graphql-core reports with its path
                                pass
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
