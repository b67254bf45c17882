"""api/plain.py: plain subtrees completed in one walk give exactly graphql-core's answer, errors included.

A small schema runs the same documents with our execution context and with graphql-core's own, and the
results must be equal: values, nulls, error messages and paths, fragments, aliases, __typename, and
@skip/@include decided by this request's variables.
"""

from __future__ import annotations

import enum
from typing import Any

import pytest
import strawberry

from api import plain
from api.execution import PortalExecutionContext


@strawberry.enum
class Mood(enum.Enum):
    CALM = "calm"
    GLAD = "glad"


@strawberry.type
class Author:
    name: str
    nickname: str | None = None


@strawberry.type
class Card:
    title: str
    moods: list[Mood]
    author: Author
    tags: list[str | None]
    maybe: Author | None = None


@strawberry.type
class Page:
    cards: list[Card]
    count: int


class NotAnAuthor:
    name = "x"


def _cards() -> list[Any]:
    return [
        Card(title="一", moods=[Mood.CALM], author=Author(name="甲"), tags=["a", None]),
        Card(title="二", moods=[], author=Author(name="乙", nickname="小乙"), tags=[], maybe=Author(name="丙")),
    ]


STATE: dict[str, Any] = {}


@strawberry.type
class Query:
    @strawberry.field
    async def page(self) -> Page | None:
        return Page(cards=STATE.get("cards") or _cards(), count=2)

    @strawberry.field
    def sync_page(self) -> Page:
        return Page(cards=STATE.get("cards") or _cards(), count=2)


ours = strawberry.Schema(query=Query, execution_context_class=PortalExecutionContext)
theirs = strawberry.Schema(query=Query)

DOCUMENT = """
query Q($withAuthor: Boolean!, $skipTags: Boolean!) {
  page {
    __typename
    count
    cards {
      ...C
      heading: title
      author @include(if: $withAuthor) { __typename name nickname }
      tags @skip(if: $skipTags)
    }
  }
  syncPage { cards { title maybe { name } } }
}
fragment C on Card { title moods maybe { nickname } }
"""


async def _both(variables: dict[str, Any]) -> tuple[Any, Any]:
    a = await ours.execute(DOCUMENT, variable_values=variables)
    b = await theirs.execute(DOCUMENT, variable_values=variables)
    errors_a = [(e.message, e.path) for e in a.errors or []]
    errors_b = [(e.message, e.path) for e in b.errors or []]
    return (a.data, errors_a), (b.data, errors_b)


@pytest.fixture(autouse=True)
def _reset() -> Any:
    STATE.clear()
    yield
    STATE.clear()


@pytest.mark.parametrize("with_author", [True, False])
@pytest.mark.parametrize("skip_tags", [True, False])
async def test_same_answer_as_graphql_core(with_author: bool, skip_tags: bool, monkeypatch: Any) -> None:
    walked: list[Any] = []
    complete = plain.complete

    def spy(spec: Any, value: Any, is_awaitable: Any) -> Any:
        walked.append(value)
        return complete(spec, value, is_awaitable)

    monkeypatch.setattr(plain, "complete", spy)
    mine, reference = await _both({"withAuthor": with_author, "skipTags": skip_tags})
    assert any(isinstance(v, list) and v and isinstance(v[0], Card) for v in walked)  # the cards, in one walk
    assert mine == reference
    assert mine[1] == []
    assert ("author" in mine[0]["page"]["cards"][0]) is with_author
    assert ("tags" in mine[0]["page"]["cards"][0]) is not skip_tags


async def test_null_in_non_null_reports_the_same_error_and_path() -> None:
    cards = _cards()
    cards[1].author.name = None  # type: ignore[assignment]
    STATE["cards"] = cards
    mine, reference = await _both({"withAuthor": True, "skipTags": False})
    assert mine == reference
    assert mine[0]["page"] is None  # the null goes up through the non-null list items to `page`
    assert mine[0]["syncPage"]["cards"][1]["maybe"] == {"name": "丙"}
    assert mine[1] and mine[1][0][1] == ["page", "cards", 1, "author", "name"]


async def test_wrong_object_type_and_bad_scalar_take_graphql_cores_path() -> None:
    cards = _cards()
    cards[0].author = NotAnAuthor()  # type: ignore[assignment]
    cards[1].moods = ["sad"]  # type: ignore[list-item]
    STATE["cards"] = cards
    mine, reference = await _both({"withAuthor": True, "skipTags": True})
    assert mine == reference
    assert mine[1]


async def test_a_generator_is_not_used_up_before_graphql_core_sees_it() -> None:
    cards = _cards()
    cards[0].tags = (t for t in ["a", "b"])  # type: ignore[assignment]
    STATE["cards"] = cards
    result = await ours.execute(DOCUMENT, variable_values={"withAuthor": False, "skipTags": False})
    assert result.errors is None
    assert result.data is not None
    assert result.data["page"]["cards"][0]["tags"] == ["a", "b"]
