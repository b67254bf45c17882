"""The static query cost limit: costly documents are refused before any resolver runs, with the
request's variables; every query the app's screens send (as the tests and benchmarks send them)
stays under the default budget."""

from __future__ import annotations

import ast
from pathlib import Path

from graphql import GraphQLError, OperationDefinitionNode, parse, validate

from api.cost import query_cost
from api.schema import schema
from core.settings import Settings, get_settings
from tests.support import count_statements, gql

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BUDGET = Settings.model_fields["max_query_cost"].default

# One group feed: 20 posts, each with 20 comments.
FEED = """group(slug: "tangyou") { feed(first: $first) { posts { edges { node { id title bodyHtml
  author { displayName } comments(first: $first) { edges { node { id bodyHtml createdAt author { displayName } } } }
} } } } }"""


def aliased_feeds(count: int) -> str:
    return "query($first: Int = 20) {" + " ".join(f"f{i}: {FEED}" for i in range(count)) + "}"


def cost(document: str, variables: dict | None = None) -> int | None:
    return query_cost(schema._schema, parse(document), variables=variables, max_page_size=100)


async def test_hundred_aliased_feeds_are_refused_before_anything_runs(client):
    with count_statements() as statements:
        result = await gql(client, aliased_feeds(100))
    assert result.get("data") is None and result["errors"]
    assert statements.count == 0


async def test_cost_alone_refuses_costly_feeds_within_the_alias_limit(client):
    document = aliased_feeds(get_settings().max_query_aliases)  # 20 aliases: the alias limit lets it through
    assert cost(document) == 20 * cost(aliased_feeds(1))  # type: ignore[operator]
    with count_statements() as statements:
        result = await gql(client, document)
    assert statements.count == 0  # refused before any resolver asked the database
    assert result.get("data") is None
    (error,) = result["errors"]
    budget = get_settings().max_query_cost
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["message"] == (
        f"查询过于复杂：预估代价为{cost(document)}，超过上限{budget}，请减少请求的字段、别名或每页数量"
    )
    assert (error["extensions"]["cost"], error["extensions"]["budget"]) == (cost(document), budget)


async def test_variables_decide_the_page_size(client):
    document = aliased_feeds(10)
    refused = await gql(client, document, {"first": 20})
    assert refused["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    default = await gql(client, document)  # the operation's default: 20
    assert default["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    small = await gql(client, document, {"first": 2})
    assert "errors" not in small, small  # no such group: ten nulls, and no cost error
    assert small["data"] == {f"f{i}": None for i in range(10)}
    assert cost(document, {"first": 2}) < cost(document, {"first": 20})  # type: ignore[operator]


def test_fields_lists_fragments_and_aliases_are_counted():
    assert cost("{ me { __typename } }") == 2
    # A connection sizes its first list below by `first` (the schema default when not given);
    # edges and nodes are both counted, pageInfo once.
    assert cost("{ groups(first: 5) { edges { node { id name } } pageInfo { hasNextPage } } }") == 1 + 1 + 5 * 3 + 2
    assert cost("{ groups { nodes { id } } }") == 1 + 1 + 20 * 1
    # `first` above the largest page counts as the largest page (the resolver refuses it anyway).
    assert cost("{ groups(first: 1000) { nodes { id } } }") == 1 + 1 + 100
    # nodes(ids:) costs by the number of ids, from a literal or a variable.
    by_ids = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    assert cost(by_ids, {"ids": ["a", "b", "c"]}) == 1 + 3 * 1
    assert cost('{ nodes(ids: ["a", "b"]) { id } }') == 1 + 2 * 1
    # Fragments and inline fragments cost what the fields they spread cost; aliases each count.
    inline = "{ groups(first: 5) { nodes { id name memberCount } } }"
    spread = "{ groups(first: 5) { nodes { ...G } } } fragment G on Group { id ... on Group { name memberCount } }"
    assert cost(inline) == cost(spread)
    assert cost("{ a: me { __typename } b: me { __typename } }") == 2 * cost("{ me { __typename } }")  # type: ignore[operator]
    # Only the chosen operation is costed.
    two = "query A { me { __typename } } query B { groups { nodes { id } } }"
    assert query_cost(schema._schema, parse(two), operation_name="A") == 2
    assert query_cost(schema._schema, parse(two)) is None  # no single operation: execution refuses it


def _documents(path: Path) -> list[str]:
    """Every string literal of a module that is a valid GraphQL document of our schema."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        text = node.value.strip()
        if not text.startswith(("query", "mutation", "subscription", "{", "fragment")):
            continue
        try:
            document = parse(text)
        except GraphQLError:
            continue
        if not validate(schema._schema, document):  # documents made invalid on purpose are left out
            found.append(text)
    return found


def test_every_screen_query_of_the_tests_and_benchmarks_is_within_the_default_budget():
    sources = [p for p in sorted((ROOT / "tests").rglob("*.py")) if p != Path(__file__).resolve()]
    sources += sorted((ROOT / "bench").glob("*.py"))
    documents = {(path.relative_to(ROOT).as_posix(), text) for path in sources for text in _documents(path)}
    assert len(documents) >= 80, len(documents)
    # The benchmarks' screens are among them (bench/feed.py FEED_QUERY, bench/content.py's feed and search).
    heads = {(where, text.split("(")[0]) for where, text in documents}
    assert {
        ("bench/feed.py", "query Feed"),
        ("bench/content.py", "query Feed"),
        ("bench/content.py", "query Search"),
    } <= heads
    over = []
    for where, text in sorted(documents):
        document = parse(text)
        for operation in document.definitions:
            if isinstance(operation, OperationDefinitionNode):
                name = operation.name.value if operation.name else None
                # Variables as a client that does not send the paging ones: the fields' defaults apply.
                spent = query_cost(schema._schema, document, operation_name=name, max_page_size=100)
                assert spent is not None
                if spent > DEFAULT_BUDGET:
                    over.append((spent, where, text[:80]))
    assert not over, over


def test_the_cached_cost_follows_the_variables_that_size_lists_and_ignores_the_rest():
    from api.cost import cached_query_cost

    document = parse(
        "query($first: Int = 20, $n: Int, $after: String, $ids: [ID!]!) {"
        " a: " + FEED.replace("feed(first: $first)", "feed(first: $first, after: $after)") + " nodes(ids: $ids) { id }"
        ' b: group(slug: "x") { feed(first: $n) { posts { edges { node { id } } } } } }'
    )

    def both(variables: dict) -> tuple[int | None, int | None]:
        expected = query_cost(schema._schema, document, variables=variables)
        return cached_query_cost(schema._schema, document, variables=variables), expected

    for variables in (
        {"ids": ["1"]},
        {"ids": ["1"], "after": "x"},
        {"ids": ["1"], "after": "y", "first": 3},
        {"ids": ["1", "2", "3"], "first": 3},
        {"ids": ["1"], "first": 3, "n": 2},
        {"ids": ["1"], "first": 3, "n": 2},
        {"ids": ["1"], "first": None},
        {"ids": ["1"], "first": "ten"},
        {"ids": [], "first": 100, "n": {"odd": [1]}},
    ):
        cached, expected = both(variables)
        assert cached == expected, variables
    small = both({"ids": ["1"], "first": 1})[0]
    assert small is not None and small < both({"ids": ["1"], "first": 20})[0]  # type: ignore[operator]
