"""Plain subtrees: a selection whose every field is an attribute read, completed in one pass.

A feed page is a prebuilt tree of plain objects (posts, authors, counts, edges, page info): no
resolver, no await, nothing to load. graphql-core still completes each of its ~400 fields on its
own (resolve info, resolver wrapper, completion dispatch, sub-field collection per object), about
half of a feed request's CPU. Here a field that reads an attribute and returns an object, or a list
of objects or leaves, gets a plan once per request (the same sub-field collection graphql-core uses,
so fragments and @skip/@include with this request's variables count) and is completed by walking
the plan over the values.

Only the well-behaved case is handled: the first null where the schema says non-null, an awaitable,
an error value, an object of another type, a value a scalar refuses, or anything unexpected makes the
whole field go through graphql-core's own path, which reports it with its path and location. That is
safe because a plan reads attributes only: doing the field again has no side effect.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
)

LEAF, OBJECT, LIST, TYPENAME = range(4)

# (kind, type, sub-plan or item spec, non-null): how one value is completed.
Spec = tuple[int, Any, Any, bool]
# (response key, attribute name, spec) per selected field.
Plan = list[tuple[str, str, Spec]]


class Fallback(Exception):
    """This value needs graphql-core's own path."""


def attribute_of(field: GraphQLField) -> str | None:
    """The attribute strawberry reads for a field without resolver, permission, extension or arguments."""
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
        return None
    name: str = definition.python_name
    return name


def spec_of(executor: Any, type_: Any, details: Any) -> Spec | None:
    nonnull = isinstance(type_, GraphQLNonNull)
    inner = type_.of_type if nonnull else type_
    if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
        return (LEAF, inner, None, nonnull)
    if isinstance(inner, GraphQLObjectType):
        plan = plan_of(executor, inner, details)
        return None if plan is None else (OBJECT, inner, plan, nonnull)
    if isinstance(inner, GraphQLList):
        item = spec_of(executor, inner.of_type, details)
        if item is None or item[0] == LIST:  # lists of lists are rare: graphql-core's path
            return None
        return (LIST, item, None, nonnull)
    return None  # interfaces and unions resolve their type at run time


def plan_of(executor: Any, object_type: GraphQLObjectType, details: Any) -> Plan | None:
    """The plan for `details` selected on `object_type`, or None when a selected field is not plain.
    Memoised per request on the executor (the collected fields depend on this request's variables)."""
    cache: dict[tuple[Any, int], tuple[Any, Plan | None]] = executor.__dict__.setdefault("_plain_plans", {})
    key = (object_type, id(details))
    hit = cache.get(key)
    if hit is not None:
        return hit[1]
    plan = _build(executor, object_type, details)
    cache[key] = (details, plan)  # keeps `details` alive so its id is not reused within the request
    return plan


def _build(executor: Any, object_type: GraphQLObjectType, details: Any) -> Plan | None:
    collected = executor.collect_subfields(object_type, details)
    if collected.new_defer_usages:
        return None
    plan: Plan = []
    for response_key, sub_details in collected.grouped_field_set.items():
        node = sub_details[0].node
        name = node.name.value
        if name == "__typename":
            plan.append((response_key, "", (TYPENAME, object_type.name, None, True)))
            continue
        if node.arguments or any(d.name.value not in ("skip", "include") for d in node.directives or ()):
            return None
        field = object_type.fields.get(name)
        attribute = attribute_of(field) if field is not None else None
        if field is None or attribute is None:
            return None
        spec = spec_of(executor, field.type, sub_details)
        if spec is None:
            return None
        plan.append((response_key, attribute, spec))
    return plan


def complete(spec: Spec, value: Any, is_awaitable: Any) -> Any:
    """`value` completed as `spec` says; raises Fallback (or the scalar's error) when it cannot be."""
    kind, type_, sub, nonnull = spec
    if value is None:
        if nonnull:
            raise Fallback
        return None
    if isinstance(value, Exception) or is_awaitable(value):
        raise Fallback
    if kind == LEAF:
        coerced = type_.coerce_output_value(value)
        if coerced is None or coerced is Undefined:
            raise Fallback
        return coerced
    if kind == OBJECT:
        is_type_of = type_.is_type_of
        if is_type_of is not None and not is_type_of(value, None):  # strawberry's ignores the info
            raise Fallback
        out: dict[str, Any] = {}
        for response_key, attribute, field_spec in sub:
            if field_spec[0] == TYPENAME:
                out[response_key] = field_spec[1]
            else:
                # No default: a missing attribute raises, and graphql-core's path reports it.
                out[response_key] = complete(field_spec, getattr(value, attribute), is_awaitable)
        return out
    if kind == LIST:
        if not isinstance(value, list | tuple):  # a generator would be used up before a fallback
            raise Fallback
        return [complete(type_, item, is_awaitable) for item in value]
    raise Fallback
