"""Uploads through the real app: GraphQL multipart request spec (operations, map, file parts)."""

from __future__ import annotations

import json
from typing import Any

UPLOAD = """mutation($input: ImageUploadInput!) { imageUpload(input: $input) {
  image { id purpose status width height byteSize thumbnailWidth thumbnailHeight contentType mine
          url thumb: url(variant: THUMBNAIL) }
  errors { field code message } } }"""
PREFLIGHT = {"apollo-require-preflight": "true"}


async def upload_response(
    client: Any,
    token: str | None,
    data: bytes,
    *,
    filename: str = "IMG_0001.jpg",
    content_type: str = "image/jpeg",
    purpose: str = "POST",
    group: str | None = None,
    headers: dict[str, str] | None = None,
    map_: dict[str, Any] | None = None,
) -> Any:
    """What apollo-upload-client sends: `operations` (the variable left null), `map`, then the file."""
    operations = {"query": UPLOAD, "variables": {"input": {"file": None, "purpose": purpose, "groupId": group}}}
    all_headers = dict(PREFLIGHT if headers is None else headers)
    if token:
        all_headers["authorization"] = f"Bearer {token}"
    return await client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps(map_ or {"0": ["variables.input.file"]})},
        files={"0": (filename, data, content_type)},
        headers=all_headers,
    )


async def upload(client: Any, token: str | None, data: bytes, **kwargs: Any) -> dict[str, Any]:
    response = await upload_response(client, token, data, **kwargs)
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]["imageUpload"]  # type: ignore[no-any-return]


def error_code(response: Any) -> str:
    """The code of a refused HTTP answer, which must be JSON (never plain text)."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    return str(response.json()["errors"][0]["extensions"]["code"])
