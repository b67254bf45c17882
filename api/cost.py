"""The static cost of a GraphQL operation, checked before any resolver runs.

The depth, token and alias limits bound the size of a document, not the work it asks for: 20 aliased
group feeds of 20 posts with 20 comments each pass all three and make the server load and render
8,000 comments. The cost is an upper bound of the objects an answer can hold:

- every field costs 1;
- a list multiplies the cost of its selection by its size: the `first` argument of the field that
  pages it (explicit, from a variable, or the schema default; capped at `max_page_size`, which
  the resolvers enforce), the number of `ids` for `nodes(ids:)`, else `max_page_size`. A paging
  argument on a connection (or on `feed`) sizes the first list below it (`edges`, `nodes`);
- fragments and inline fragments are expanded where they are spread, and every alias counts.

Introspection (`__schema`, `__type`) costs 1: it is governed by its own setting, and the whole
schema is a fixed, cached answer. The check runs after validation (so the document is known to be
well formed) and needs the variables, which is why it is an extension, not a validation rule:
validation results are cached per document text, variables differ per request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    VariableNode,
    get_named_type,
    is_input_type,
    value_from_ast,
)
from graphql.language import DocumentNode, OperationType
from graphql.utilities import type_from_ast
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from core.settings import get_settings

PAGE_ARGUMENTS = ("first",)
ID_LIST_ARGUMENTS = ("ids",)


class _Counter:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        max_page_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.max_page_size = max_page_size
        # Names of the variables inside the size arguments read: the only ones the cost depends on.
        self.used: set[str] = set()

    def selection_cost(self, selection_set: SelectionSetNode | None, parent: Any, pending: int | None) -> int:
        if selection_set is None:
            return 0
        return sum(
            self.field_cost(node, parent_type, pending) for node, parent_type in self._fields(selection_set, parent)
        )

    def _fields(
        self, selection_set: SelectionSetNode, parent: Any, seen: tuple[str, ...] = ()
    ) -> Iterator[tuple[FieldNode, Any]]:
        """Every field of a selection with the type it is selected on, fragments expanded."""
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                on = self._type(selection.type_condition.name.value) if selection.type_condition else parent
                yield from self._fields(selection.selection_set, on, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:  # validation refuses both; never loop on them
                    continue
                on = self._type(fragment.type_condition.name.value)
                yield from self._fields(fragment.selection_set, on, (*seen, name))

    def _type(self, name: str) -> Any:
        return self.schema.get_type(name)

    def field_cost(self, node: FieldNode, parent: Any, pending: int | None) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 1
        definition = self._definition(parent, name)
        if definition is None:
            return 1
        size = self._size(node, definition)
        returns = definition.type.of_type if isinstance(definition.type, GraphQLNonNull) else definition.type
        child = get_named_type(definition.type)
        if isinstance(returns, GraphQLList):
            # A list is as long as its own size argument, else the size handed down by the field
            # that pages it, else the largest page.
            length = size if size is not None else pending if pending is not None else self.max_page_size
            return 1 + length * self.selection_cost(node.selection_set, child, None)
        # An object: a paging argument here sizes the first list below (connection -> edges).
        return 1 + self.selection_cost(node.selection_set, child, size if size is not None else pending)

    @staticmethod
    def _definition(parent: Any, name: str) -> GraphQLField | None:
        if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            return parent.fields.get(name)
        return None

    def _size(self, node: FieldNode, definition: GraphQLField) -> int | None:
        given = {argument.name.value: argument.value for argument in node.arguments or ()}
        for name in PAGE_ARGUMENTS:
            if name in definition.args:
                value = self._argument(given.get(name), definition, name)
                if isinstance(value, int) and value > 0:
                    return min(value, self.max_page_size)
                return self.max_page_size  # null or invalid: the resolver refuses it or uses the most
        for name in ID_LIST_ARGUMENTS:
            if name in definition.args:
                value = self._argument(given.get(name), definition, name)
                return len(value) if isinstance(value, list) else self.max_page_size
        return None

    def _argument(self, value_node: Any, definition: GraphQLField, name: str) -> Any:
        argument = definition.args[name]
        if value_node is None:
            return argument.default_value
        self.used.update(_variable_names(value_node))
        value = value_from_ast(value_node, argument.type, self.variables)
        # A variable the request did not give leaves the argument unset: its default applies.
        return argument.default_value if value is Undefined else value


def _variable_names(node: Any) -> Iterator[str]:
    if isinstance(node, VariableNode):
        yield node.name.value
    elif isinstance(node, ListValueNode):
        for item in node.values:
            yield from _variable_names(item)
    elif isinstance(node, ObjectValueNode):
        for field in node.fields:
            yield from _variable_names(field.value)


def _operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        return next((o for o in operations if o.name and o.name.value == operation_name), None)
    return operations[0] if len(operations) == 1 else None


def _variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode, given: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The request's variables over the operation's defaults (raw values: enough for sizes and counts)."""
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        var_type = type_from_ast(schema, definition.type)
        if definition.default_value is not None and is_input_type(var_type):
            default = value_from_ast(definition.default_value, cast(GraphQLInputType, var_type))
            if default is not Undefined:
                values[definition.variable.name.value] = default
    values.update(given or {})
    return values


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
    max_page_size: int | None = None,
) -> int | None:
    """The cost of the operation that would run; None when no single operation is chosen (execution
    refuses that itself)."""
    counted = _count(
        schema,
        document,
        operation_name,
        variables,
        max_page_size if max_page_size is not None else get_settings().max_page_size,
    )
    return None if counted is None else counted[0]


def _count(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    max_page_size: int,
) -> tuple[int, _Counter] | None:
    """The cost of the chosen operation and the counter that walked it (which variables it used);
    None when no single operation is chosen."""
    operation = _operation(document, operation_name)
    if operation is None:
        return None
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    counter = _Counter(schema, fragments, _variables(schema, operation, variables), max_page_size)
    return counter.selection_cost(operation.selection_set, root, None), counter


_MISSING = object()
# Per parsed document (the parser cache hands out the same object for the same text) and operation: the
# document, the variables its cost depends on, and the costs seen by their values. Bounded.
_COSTS: dict[tuple[int, str | None, int], tuple[DocumentNode, tuple[str, ...], dict[tuple[Any, ...], int | None]]] = {}
MAX_CACHED_DOCUMENTS = 512
MAX_CACHED_COSTS = 64


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return ("list", *(_frozen(v) for v in value))
    if isinstance(value, dict):
        return ("dict", *sorted((k, _frozen(v)) for k, v in value.items()))
    hash(value)  # TypeError for anything else unhashable: not cached
    return (type(value).__name__, value)


def cached_query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int | None:
    """`query_cost`, computed once per document, operation and values of the variables that size its
    lists (a feed's `first`), not on every request: its walk cost ~0.15 ms per feed request. The cursor
    variables (`after`) that change on every page do not enter the key."""
    page_size = get_settings().max_page_size
    slot = (id(document), operation_name, page_size)
    entry = _COSTS.get(slot)
    given = variables or {}
    if entry is not None and entry[0] is document:
        try:
            key = tuple(_frozen(given.get(name, _MISSING)) for name in entry[1])
        except TypeError:
            return query_cost(schema, document, variables=variables, operation_name=operation_name)
        if key in entry[2]:
            return entry[2][key]
    counted = _count(schema, document, operation_name, variables, page_size)
    if counted is None:
        return None
    cost, counter = counted
    names = tuple(sorted(counter.used))
    try:
        key = tuple(_frozen(given.get(name, _MISSING)) for name in names)
    except TypeError:
        return cost
    if entry is None or entry[0] is not document or entry[1] != names:
        if len(_COSTS) >= MAX_CACHED_DOCUMENTS:
            _COSTS.clear()
        entry = _COSTS[slot] = (document, names, {})
    if len(entry[2]) >= MAX_CACHED_COSTS:
        entry[2].clear()
    entry[2][key] = cost
    return cost


def too_costly(cost: int, budget: int) -> GraphQLError:
    return GraphQLError(
        f"查询过于复杂：预估代价为{cost}，超过上限{budget}，请减少请求的字段、别名或每页数量",
        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "budget": budget},
    )


class QueryCostLimiter(SchemaExtension):
    """Refuses an operation whose static cost is over `max_query_cost` before execution starts.

    Listed after the validation cache: that has set the validation errors by the time this runs,
    and only a valid document is costed (a cost error replaces no other error).
    """

    def __init__(self, *, max_cost: int) -> None:
        super().__init__()
        self.max_cost = max_cost

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.pre_execution_errors is None:
            # No validation ran before this extension: validate first, so only valid documents are costed.
            assert context.graphql_document is not None
            context.pre_execution_errors = validate_document(
                context.schema._schema, context.graphql_document, context.validation_rules
            )
        if not context.pre_execution_errors and context.graphql_document is not None:
            cost = cached_query_cost(
                context.schema._schema,
                context.graphql_document,
                variables=context.variables,
                operation_name=context.operation_name,
            )
            if cost is not None and cost > self.max_cost:
                # A new list: the validation cache hands out its stored (shared) list.
                context.pre_execution_errors = [too_costly(cost, self.max_cost)]
        yield
