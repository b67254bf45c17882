"""Images through the real app over HTTP with real signed-in patients and staff: multipart uploads,
signed URLs, members-only groups, held images and their moderation, posts with uploaded images."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from PIL import Image

from api.relay import to_global_id
from core import clock
from media.config import reset_media_settings
from tests.factories import make_group, member_of
from tests.media import images
from tests.media.http import PREFLIGHT, UPLOAD, error_code, upload, upload_response
from tests.support import data, gql, signed_in_patient, staff_session

POST_CREATE = """mutation($input: PostCreateInput!) { postCreate(input: $input) {
  post { id status imageUrls imageList { id status url } } errors { field code } } }"""
POST_IMAGES = """query($id: ID!) { node(id: $id) { ... on Post { id imageUrls
  imageList { id status mine width height url thumb: url(variant: THUMBNAIL) } } } }"""
HELD = """query($g: ID) { heldImages(groupId: $g, first: 10) { edges { node { id status mine url } } } }"""
MODERATE = """mutation($input: ImageModerateInput!) { imageModerate(input: $input) {
  image { id status url } errors { field code } } }"""
IMAGE_NODE = """query($id: ID!) { node(id: $id) { ... on Image { id status mine url } } }"""
AUDIT = """query($g: ID) { auditLog(groupId: $g) { edges { node { action targetKind targetId reason detail } } } }"""


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.cn"


async def _member(client: Any, group: uuid.UUID, *, veteran: bool = True) -> Any:
    session, patient_id = await signed_in_patient(client)
    await member_of(group, patient_id, veteran=veteran)
    return session


async def _post(client: Any, token: str, group: uuid.UUID, image_ids: list[str]) -> dict[str, Any]:
    variables = {
        "input": {
            "groupId": to_global_id("Group", group),
            "kind": "DISCUSSION",
            "title": "午餐照片",
            "body": "控糖午餐分享",
            "imageIds": image_ids,
        }
    }
    return data(await gql(client, POST_CREATE, variables, token=token))["postCreate"]  # type: ignore[no-any-return]


async def _images_of(client: Any, post_id: str, token: str | None) -> list[dict[str, Any]] | None:
    node = data(await gql(client, POST_IMAGES, {"id": post_id}, token=token))["node"]
    return None if node is None else node["imageList"]


async def test_a_phone_photo_uploaded_by_multipart_is_served_signed_and_without_its_gps(client):
    group = await make_group(visibility="public")
    patient = await _member(client, group)
    payload = await upload(
        client, patient.access, images.photo(1600, 1200, orientation=6), group=to_global_id("Group", group)
    )
    assert payload["errors"] == []
    image = payload["image"]
    assert image["status"] == "APPROVED" and image["mine"] and image["purpose"] == "POST"
    assert (image["width"], image["height"]) == (1200, 1600)  # upright
    assert (image["thumbnailWidth"], image["thumbnailHeight"]) == (300, 400)
    assert image["contentType"] == "image/jpeg" and image["byteSize"] > 0
    served = await client.get(image["url"])  # no Authorization: <img src> sends none
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert served.headers["cache-control"].startswith("public, max-age=")
    assert len(served.content) == image["byteSize"]
    stored = Image.open(io.BytesIO(served.content))
    assert stored.size == (1200, 1600) and len(stored.getexif()) == 0 and b"iPhone" not in served.content
    thumb = await client.get(image["thumb"])
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).size == (300, 400)


async def test_a_five_megabyte_photo_end_to_end(client):
    # Noise does not compress: a 1800 x 1800 noisy JPEG at quality 95 is about 5 MB, like a phone photo.
    noise = Image.effect_noise((1800, 1800), 80)  # one band ("L")
    out = io.BytesIO()
    Image.merge("RGB", (noise, noise.rotate(90), noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT))).save(
        out, "JPEG", quality=98
    )
    photo = out.getvalue()
    assert len(photo) > 4 * 1024 * 1024
    patient, _ = await signed_in_patient(client)
    payload = await upload(client, patient.access, photo, purpose="AVATAR")
    assert payload["errors"] == [] and payload["image"]["status"] == "HELD"  # a brand-new account's avatar
    assert (payload["image"]["width"], payload["image"]["height"]) == (1800, 1800)
    assert (await client.get(payload["image"]["url"])).status_code == 200  # its owner's URL


async def test_upload_refusals_are_typed(client, monkeypatch: pytest.MonkeyPatch):
    group = await make_group()
    patient = await _member(client, group)
    gid = to_global_id("Group", group)
    # A browser form from another site cannot upload: the preflight-forcing header is required.
    refused = await upload_response(client, patient.access, images.png(), group=gid, headers={})
    assert refused.status_code == 400 and error_code(refused) == "CSRF_PREFLIGHT_REQUIRED"
    operation_name = await upload_response(
        client, patient.access, images.photo(), group=gid, headers={"x-apollo-operation-name": "Upload"}
    )
    assert operation_name.json()["data"]["imageUpload"]["errors"] == []

    async def codes(**kwargs: Any) -> list[str]:
        payload = await upload(client, kwargs.pop("token", patient.access), kwargs.pop("body"), **kwargs)
        assert payload["image"] is None
        return [e["code"] for e in payload["errors"]]

    assert await codes(body=images.photo(), token=None, purpose="AVATAR") == ["NOT_AUTHENTICATED"]
    assert await codes(body=b"hello, not a picture", filename="notes.png", content_type="image/png", group=gid) == [
        "MEDIA_TYPE_UNSUPPORTED"
    ]
    assert await codes(body=images.png(), filename="photo.jpg", group=gid) == ["MEDIA_TYPE_MISMATCH"]
    assert await codes(body=images.png_bomb(30_000, 30_000), filename="x.png", content_type="image/png", group=gid) == [
        "MEDIA_TOO_MANY_PIXELS"
    ]
    assert await codes(body=images.photo(), group="not-an-id") == ["ID_INVALID"]
    assert await codes(body=images.photo()) == ["MEDIA_GROUP_REQUIRED"]
    outsider, _ = await signed_in_patient(client)
    assert await codes(body=images.photo(), group=gid, token=outsider.access) == ["NOT_A_MEMBER"]
    # The Upload scalar given as a JSON string instead of a file part.
    as_json = data(
        await gql(client, UPLOAD, {"input": {"file": "aGVsbG8=", "purpose": "AVATAR"}}, token=patient.access)
    )["imageUpload"]
    assert [e["code"] for e in as_json["errors"]] == ["MEDIA_FILE_REQUIRED"]
    # A map that does not fit the operations, or names a part that is not there: JSON 400s.
    bad_map = await upload_response(client, patient.access, images.png(), map_={"0": ["variables.input.0.x"]})
    assert bad_map.status_code == 400 and error_code(bad_map) == "BAD_REQUEST"
    missing = await upload_response(client, patient.access, images.png(), map_={"1": ["variables.input.file"]})
    assert missing.status_code == 400 and error_code(missing) == "BAD_REQUEST"

    # Sizes: the body cap of uploads follows the image limit; other requests keep theirs.
    monkeypatch.setenv("PORTAL_MEDIA_MAX_BYTES", "100000")
    reset_media_settings()
    too_big_file = images.photo(64, 64, gps=False) + b"\x00" * 110_000  # under the body cap, over the limit
    assert await codes(body=too_big_file, group=gid) == ["MEDIA_TOO_LARGE"]
    too_big_body = await upload_response(client, patient.access, b"\x00" * 200_000, group=gid)
    assert too_big_body.status_code == 413 and error_code(too_big_body) == "BODY_TOO_LARGE"

    async def chunks() -> Any:  # no Content-Length: the cap is counted as the body arrives
        for _ in range(10):
            yield b"\x00" * 20_000

    chunked = await client.post(
        "/graphql",
        content=chunks(),
        headers={
            "content-type": "multipart/form-data; boundary=x",
            "authorization": f"Bearer {patient.access}",
            **PREFLIGHT,
        },
    )
    assert chunked.status_code == 413 and error_code(chunked) == "BODY_TOO_LARGE"
    big_json = await client.post(
        "/graphql",
        content=json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * 300_000}}),
        headers={"content-type": "application/json", **PREFLIGHT},
    )
    assert big_json.status_code == 413 and error_code(big_json) == "BODY_TOO_LARGE"


def _with_query(url: str, **changes: str) -> str:
    split = urlsplit(url)
    query = {**dict(parse_qsl(split.query)), **changes}
    return f"{split.scheme}://{split.netloc}{split.path}?{urlencode(query)}"


async def test_images_of_a_members_only_group_go_to_its_members_only(client):
    group = await make_group(visibility="members")
    author = await _member(client, group)
    reader = await _member(client, group)
    outsider, _ = await signed_in_patient(client)
    image = (await upload(client, author.access, images.photo(), group=to_global_id("Group", group)))["image"]
    created = await _post(client, author.access, group, [image["id"]])
    assert created["errors"] == [] and created["post"]["imageUrls"] == []
    assert [i["id"] for i in created["post"]["imageList"]] == [image["id"]]
    post_id = created["post"]["id"]

    seen = await _images_of(client, post_id, reader.access)
    assert seen is not None and len(seen) == 1 and seen[0]["status"] == "APPROVED" and not seen[0]["mine"]
    url = seen[0]["url"]
    assert "v=" in url and url != image["url"]  # bound to the reader, not the author's URL
    assert await _images_of(client, post_id, outsider.access) is None  # the post itself is not theirs to see

    served = await client.get(url)
    assert served.status_code == 200 and served.headers["cache-control"].startswith("private, max-age=")
    assert (await client.get(url, headers={"authorization": f"Bearer {reader.access}"})).status_code == 200
    # The reader's URL presented by someone else signed in: refused, in JSON.
    stolen = await client.get(url, headers={"authorization": f"Bearer {outsider.access}"})
    assert stolen.status_code == 403 and error_code(stolen) == "MEDIA_WRONG_VIEWER"
    assert stolen.headers["cache-control"] == "no-store"
    # Made out to the outsider instead, or for the original instead of the thumbnail: the signature breaks.
    for forged in (
        _with_query(url, v="AAAAAAAAAAAAAAAAAAAAAA"),
        _with_query(url, g="m"),
        _with_query(url, e=str(int(dict(parse_qsl(urlsplit(url).query))["e"]) + 3600)),
        seen[0]["thumb"].replace("/thumbnail?", "/original?"),
    ):
        refused = await client.get(forged)
        assert refused.status_code == 403 and error_code(refused) == "MEDIA_URL_INVALID"
    missing = await client.get(f"/media/{uuid.uuid4()}/original?e=1&s=x")
    assert missing.status_code == 403 and error_code(missing) == "MEDIA_URL_INVALID"
    clock.clock.advance(timedelta(minutes=40))  # past the 15-minute URL of a members-only image
    expired = await client.get(url)
    assert expired.status_code == 403 and error_code(expired) == "MEDIA_URL_EXPIRED"


async def test_held_images_are_for_their_owner_and_moderators_until_approved(client):
    group = await make_group(visibility="public")
    newcomer = await _member(client, group, veteran=False)
    reader = await _member(client, group)
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    gid = to_global_id("Group", group)
    held = (await upload(client, newcomer.access, images.photo(), group=gid))["image"]
    assert held["status"] == "HELD" and held["url"] and "g=o" in held["url"]
    created = await _post(client, newcomer.access, group, [held["id"]])
    assert created["errors"] == [] and created["post"]["status"] == "PUBLISHED"
    post_id = created["post"]["id"]

    assert await _images_of(client, post_id, reader.access) == []
    assert await _images_of(client, post_id, None) == []
    mine = await _images_of(client, post_id, newcomer.access)
    assert mine is not None and [i["status"] for i in mine] == ["HELD"] and mine[0]["mine"]
    assert (await client.get(mine[0]["url"])).status_code == 200

    # Readers learn nothing of held images, not even through node(id); patients cannot moderate.
    assert data(await gql(client, IMAGE_NODE, {"id": held["id"]}, token=reader.access))["node"] is None
    assert data(await gql(client, IMAGE_NODE, {"id": held["id"]}))["node"] is None
    as_owner = data(await gql(client, IMAGE_NODE, {"id": held["id"]}, token=newcomer.access))["node"]
    assert as_owner["status"] == "HELD" and as_owner["mine"] and as_owner["url"]
    denied = await gql(client, HELD, {"g": None}, token=reader.access)
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    denied = await gql(client, HELD, {"g": gid}, token=reader.access)
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    attempt = data(
        await gql(client, MODERATE, {"input": {"imageId": held["id"], "approve": True}}, token=reader.access)
    )["imageModerate"]
    assert [e["code"] for e in attempt["errors"]] == ["IMAGE_NOT_FOUND"]
    own = data(await gql(client, MODERATE, {"input": {"imageId": held["id"], "approve": True}}, token=newcomer.access))[
        "imageModerate"
    ]
    assert [e["code"] for e in own["errors"]] == ["PERMISSION_DENIED"]
    bad_id = data(await gql(client, MODERATE, {"input": {"imageId": "x", "approve": True}}, token=moderator.access))
    assert [e["code"] for e in bad_id["imageModerate"]["errors"]] == ["ID_INVALID"]

    queue = data(await gql(client, HELD, {"g": gid}, token=moderator.access))["heldImages"]["edges"]
    assert [e["node"]["id"] for e in queue] == [held["id"]] and not queue[0]["node"]["mine"]
    moderator_url = queue[0]["node"]["url"]
    assert "g=m" in moderator_url and (await client.get(moderator_url)).status_code == 200

    approved = data(
        await gql(
            client,
            MODERATE,
            {"input": {"imageId": held["id"], "approve": True, "reason": "正常饮食照片"}},
            token=moderator.access,
        )
    )["imageModerate"]
    assert approved["errors"] == [] and approved["image"]["status"] == "APPROVED"
    seen = await _images_of(client, post_id, reader.access)
    assert seen is not None and [i["status"] for i in seen] == ["APPROVED"]
    assert data(await gql(client, IMAGE_NODE, {"id": held["id"]}))["node"]["status"] == "APPROVED"
    reader_url = seen[0]["url"]
    assert "v=" not in reader_url and (await client.get(reader_url)).status_code == 200  # a public group
    assert data(await gql(client, HELD, {"g": gid}, token=moderator.access))["heldImages"]["edges"] == []

    # Taken down later: the URLs already handed to readers stop at once; the moderator's still works.
    rejected = data(
        await gql(client, MODERATE, {"input": {"imageId": held["id"], "approve": False}}, token=moderator.access)
    )["imageModerate"]
    assert rejected["errors"] == [] and rejected["image"]["status"] == "REJECTED"
    gone = await client.get(reader_url)
    assert gone.status_code == 404 and error_code(gone) == "IMAGE_NOT_FOUND"
    assert (await client.get(mine[0]["url"])).status_code == 404  # the owner's too
    assert (await client.get(moderator_url)).status_code == 200
    assert await _images_of(client, post_id, reader.access) == []
    rejected_to_owner = data(await gql(client, IMAGE_NODE, {"id": held["id"]}, token=newcomer.access))["node"]
    assert rejected_to_owner["status"] == "REJECTED" and rejected_to_owner["url"] is None  # told, not shown

    log = data(await gql(client, AUDIT, {"g": gid}, token=moderator.access))["auditLog"]["edges"]
    entries = [e["node"] for e in log if e["node"]["targetKind"] == "image"]
    assert [e["action"] for e in entries] == ["image_reject", "image_approve"]
    assert entries[1]["targetId"] == held["id"] and entries[1]["reason"] == "正常饮食照片"


async def test_a_post_refuses_images_that_are_not_its_authors(client):
    group = await make_group()
    author = await _member(client, group)
    other = await _member(client, group)
    theirs = (await upload(client, other.access, images.photo(), group=to_global_id("Group", group)))["image"]
    refused = await _post(client, author.access, group, [theirs["id"]])
    assert refused["post"] is None and refused["errors"] == [{"field": "imageIds", "code": "IMAGE_NOT_FOUND"}]
    malformed = await _post(client, author.access, group, ["not-an-id"])
    assert malformed["errors"] == [{"field": "imageIds", "code": "ID_INVALID"}]
