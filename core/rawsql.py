"""Hot read paths: SQL text written once at import, sent as an asyncpg prepared statement.

`fetch(session, SQL, *args)` runs a statement on the connection the session already holds (its
transaction, if one is open) straight through the driver: no select() built per call, no compile
or cache-key work, no ORM objects; rows come back as asyncpg Records (index or key access), and
asyncpg prepares each text once per connection and reuses it. Listeners of the engine's
`before_cursor_execute` event (statement counters in tests, benchmarks) still see every statement.

Use it for reads that run on every request of a hot query; writes and everything else keep using
the ORM, whose unit of work, identity map and events they need.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

# The first line of a statement whose best plan depends on its values (post search: a word in most posts
# wants them read newest first through the created_at index, a rare one the GIN index). A statement
# prepared once and reused gets PostgreSQL's one generic plan after five runs, whatever the next values
# are; a statement starting with this mark is prepared for each call instead, so every run is planned
# with its own values (one more round trip). Replays of captured statements (bench/) honour it too.
PLAN_PER_CALL = "/* planned per call */"


async def fetch(session: AsyncSession, sql: str, *args: Any) -> list[Any]:
    """The rows of `sql` ($1, $2 ... placeholders) on the session's connection."""
    conn = await session.connection()
    sync_conn = conn.sync_connection
    assert sync_conn is not None
    if sync_conn._has_events or sync_conn.engine._has_events:
        sync_conn.dispatch.before_cursor_execute(sync_conn, None, sql, args, None, False)
    # The pooled connection the session holds, read without a greenlet hop (get_raw_connection spawns one
    # per call, ~0.05 ms); the awaited path when SQLAlchemy has none at hand (invalidated, reconnecting).
    fairy = sync_conn._dbapi_connection
    driver: Any = (fairy if fairy is not None else await conn.get_raw_connection()).driver_connection
    if sql.startswith(PLAN_PER_CALL):
        statement = await driver.prepare(sql)  # closed by asyncpg once garbage
        planned: list[Any] = await statement.fetch(*args)
        return planned
    rows: list[Any] = await driver.fetch(sql, *args)
    return rows


_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class Named:
    """SQL text written with `:name` parameters, numbered once ($1, $2 ... in order of first use) for
    `fetch`; `args(values)` orders a dict of values to match. Lets a statement assembled from parts (an
    access rule plus a feed's paging) name its parameters instead of counting them."""

    __slots__ = ("names", "sql")

    def __init__(self, sql: str) -> None:
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"

        self.sql = _NAMED.sub(number, sql)
        self.names = tuple(names)

    def args(self, values: dict[str, Any]) -> list[Any]:
        return [values[name] for name in self.names]


def inline(sql: str, expressions: dict[str, str]) -> str:
    """`sql` with the named parameters in `expressions` replaced by those SQL expressions (the others
    stay parameters): one statement that computes a value another part was written to receive."""
    return _NAMED.sub(lambda m: expressions.get(m.group(1), m.group(0)), sql)
