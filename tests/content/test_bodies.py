"""Article bodies are rendered from markdown once per revision and body, not on every read."""

from __future__ import annotations

import uuid

from content import bodies


def test_a_body_is_rendered_once_per_revision_and_again_when_edited(monkeypatch):
    calls: list[str] = []
    real = bodies.render_markdown

    def counting(source: str) -> str:
        calls.append(source)
        return real(source)

    monkeypatch.setattr(bodies, "render_markdown", counting)
    rev = uuid.uuid4()
    first = bodies.body_html(rev, "规律监测**血糖**<script>alert(1)</script>")
    assert first == bodies.body_html(rev, "规律监测**血糖**<script>alert(1)</script>")
    assert "<strong>血糖</strong>" in first and "<script" not in first
    assert len(calls) == 1
    assert "<em>" in bodies.body_html(rev, "draft edited in place: *new*")  # same revision, new body
    assert len(calls) == 2


def test_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(bodies, "MAX_CACHED", 3)
    monkeypatch.setattr(bodies, "_cache", type(bodies._cache)())
    for n in range(10):
        bodies.body_html(uuid.uuid4(), f"body {n}")
    assert len(bodies._cache) == 3


async def test_readers_get_the_sanitised_body_of_the_live_revision(client, unique_phone, monkeypatch):
    from api.relay import to_global_id
    from tests.content.support import article, publish
    from tests.support import data, gql, patient_session

    item_id = await publish(article(body="每天**步行**30分钟<script>x()</script>"))
    session = await patient_session(client, unique_phone)
    query = "query($id: ID!) { contentItem(id: $id) { bodyHtml revision { bodyHtml } } }"
    variables = {"id": to_global_id("ContentItem", item_id)}
    first = data(await gql(client, query, variables, token=session.access))["contentItem"]
    monkeypatch.setattr(bodies, "render_markdown", lambda source: "rendered again")
    again = data(await gql(client, query, variables, token=session.access))["contentItem"]
    assert first == again
    assert "<strong>步行</strong>" in first["bodyHtml"] and "<script" not in first["bodyHtml"]
    assert first["revision"]["bodyHtml"] == first["bodyHtml"]
