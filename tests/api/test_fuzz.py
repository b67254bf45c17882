"""Schema-driven fuzzing: queries and mutations generated from the real schema never end in a masked 500.

Every client mistake must come back as a typed error (issue 10, point 4). hypothesis-graphql builds
syntactically valid operations from schema.graphql with arbitrary argument values (null bytes,
impossible dates, garbage cursors and ids, huge and negative page sizes); we send them over HTTP as
the real app sees them and require JSON with `data` or `errors` and no INTERNAL_ERROR.

The operations are drawn first and sent afterwards: the app's engine and the client live on the
session's event loop, which Hypothesis cannot drive example by example. Drawing is derandomized
(same operations on every run, stable CI) and unshrunk; a failure lists every offending operation.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import graphql
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, queries

from cli.main import SCHEMA_PATH
from tests.support import patient_session, staff_session

# Per run (four runs of each kind below); FUZZ_EXAMPLES=2000 for a deeper local search.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))


def _string(value: str) -> graphql.StringValueNode:
    return graphql.StringValueNode(value=value)


# Custom scalars get valid values most of the time and the classic mistakes the rest of the time:
# impossible calendar dates, years out of range, naive datetimes, the last representable instant.
_bad_dates = st.sampled_from(
    ["2026-02-30", "2026-13-01", "0000-01-01", "99999-01-01", "9999-12-31", "0001-01-01", "", "明天", "2026-1-1"]
)
_bad_datetimes = st.sampled_from(
    [
        "2026-02-30T10:00:00+08:00",
        "2026-13-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59+00:00",
        "9999-12-31T23:59:59",
        "0001-01-01T00:00:00-12:00",
        "2026-06-01T10:00:00",
        "2026-06-01T25:00:00Z",
        "",
        "now",
    ]
)
CUSTOM_SCALARS = {
    "Date": st.one_of(
        st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1)).map(date.isoformat), _bad_dates
    ).map(_string),
    "DateTime": st.one_of(
        st.datetimes(
            min_value=datetime(2000, 1, 1),
            max_value=datetime(2100, 1, 1),
            timezones=st.just(timezone(timedelta(hours=8))),
        ).map(datetime.isoformat),
        st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)).map(
            datetime.isoformat
        ),
        _bad_datetimes,
    ).map(_string),
    # Upload (imageUpload's file) can only be a multipart file part: any literal must be refused with a code.
    "Upload": st.one_of(st.text(max_size=20).map(_string), st.just(graphql.NullValueNode())),
    "JSON": st.one_of(
        st.just(graphql.ObjectValueNode(fields=())),
        st.text(max_size=20).map(_string),
        st.integers().map(lambda i: graphql.IntValueNode(value=str(i))),
        st.just(graphql.NullValueNode()),
    ),
}

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _draw(strategy: st.SearchStrategy[str]) -> list[str]:
    drawn: list[str] = []

    @FUZZ_SETTINGS
    @given(strategy)
    def collect(operation: str) -> None:
        drawn.append(operation)

    collect()
    return drawn


def _schema_sdl() -> str:
    return SCHEMA_PATH.read_text(encoding="utf-8")


def _problems(status: int, body: bytes) -> list[str]:
    if not (status == 200 or 400 <= status < 500):
        return [f"HTTP {status}: {body[:300]!r}"]
    try:
        payload = json.loads(body)
    except ValueError:
        return [f"HTTP {status}, not JSON: {body[:300]!r}"]
    if not isinstance(payload, dict) or not ("data" in payload or "errors" in payload):
        return [f"HTTP {status}, neither data nor errors: {body[:300]!r}"]
    internal = [e for e in payload.get("errors") or [] if (e.get("extensions") or {}).get("code") == "INTERNAL_ERROR"]
    if internal:
        return [f"INTERNAL_ERROR at {[e.get('path') for e in internal]}"]
    codes = [(e.get("extensions") or {}).get("code") for e in payload.get("errors") or []]
    if None in codes:
        return [f"error without a code: {body[:300]!r}"]
    return []


async def _send_all(client: Any, operations: list[str], token: str | None) -> list[str]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    failures: list[str] = []
    for operation in operations:
        response = await client.post("/graphql", json={"query": operation}, headers=headers)
        for problem in _problems(response.status_code, response.content):
            failures.append(f"{problem}\n    {operation}")
    return failures


def _cached_draw(cache: pytest.Cache | None, kind: str, draw: Callable[[], list[str]]) -> list[str]:
    """Drawing takes seconds and, derandomized, gives the same operations for the same schema,
    strategies (this file) and library versions: the pytest cache keeps them under that key."""
    if cache is None:
        return draw()
    key = hashlib.sha256(
        "\x1f".join(
            [kind, _schema_sdl(), Path(__file__).read_text(encoding="utf-8"), str(EXAMPLES)]
            + [importlib.metadata.version(d) for d in ("hypothesis", "hypothesis-graphql", "graphql-core")]
        ).encode()
    ).hexdigest()
    path = f"portal/fuzz-{kind}"
    stored = cache.get(path, None)
    if isinstance(stored, dict) and stored.get("key") == key:
        return list(stored["operations"])
    operations = draw()
    cache.set(path, {"key": key, "operations": operations})
    return operations


@pytest.fixture(scope="module")
def fuzzed_queries(request: pytest.FixtureRequest) -> list[str]:
    return _cached_draw(
        getattr(request.config, "cache", None),
        "queries",
        lambda: _draw(queries(_schema_sdl(), custom_scalars=CUSTOM_SCALARS)),
    )


def _mutation_fields() -> list[str]:
    # authSignOut revokes the token the rest of the run signs in with (test_auth.py covers it).
    mutation = graphql.build_schema(_schema_sdl()).mutation_type
    assert mutation is not None
    return [name for name in mutation.fields if name != "authSignOut"]


@pytest.fixture(scope="module")
def fuzzed_mutations(request: pytest.FixtureRequest) -> list[str]:
    return _cached_draw(
        getattr(request.config, "cache", None),
        "mutations",
        lambda: _draw(mutations(_schema_sdl(), fields=_mutation_fields(), custom_scalars=CUSTOM_SCALARS)),
    )


def _report(failures: list[str]) -> str:
    return f"{len(failures)} operations failed:\n" + "\n".join(failures[:40])


async def test_fuzzed_queries_as_anonymous(client, fuzzed_queries):
    failures = await _send_all(client, fuzzed_queries, None)
    assert not failures, _report(failures)


async def test_fuzzed_queries_as_patient(client, fuzzed_queries, unique_phone):
    patient = await patient_session(client, unique_phone)
    failures = await _send_all(client, fuzzed_queries, patient.access)
    assert not failures, _report(failures)


async def test_fuzzed_mutations_as_anonymous(client, fuzzed_mutations):
    failures = await _send_all(client, fuzzed_mutations, None)
    assert not failures, _report(failures)


async def test_fuzzed_mutations_as_patient(client, fuzzed_mutations, unique_phone):
    patient = await patient_session(client, unique_phone)
    failures = await _send_all(client, fuzzed_mutations, patient.access)
    assert not failures, _report(failures)


async def test_fuzzed_queries_as_admin(client, fuzzed_queries):
    # Staff reach the console's fields (dashboards, campaigns, moderation) that refuse patients early.
    admin = await staff_session(client, "fuzz-admin@example.cn", ["admin"])
    failures = await _send_all(client, fuzzed_queries, admin.access)
    assert not failures, _report(failures)


async def test_fuzzed_mutations_as_admin(client, fuzzed_mutations):
    admin = await staff_session(client, "fuzz-admin@example.cn", ["admin"])
    failures = await _send_all(client, fuzzed_mutations, admin.access)
    assert not failures, _report(failures)
