"""Image uploads for the benchmarks (bench/social.py: "image upload of a 5 MB photo end to end").

A helper module like bench/http1.py, nothing to run on its own:

    photo = sample_photo()                                   # a ~5 MB JPEG with EXIF GPS, as phones write
    image = await upload_photo(http, token, photo)           # imageUpload through the multipart spec
    assert (await http.get(image["url"])).status_code == 200 # and back through its signed URL

`upload_photo` sends what apollo-upload-client sends (operations, map, the file part, the
Apollo-Require-Preflight header) to a running API (`portal serve`), so a timing covers the whole path:
the body received before the request gate, Pillow on the CPU pool, storage, the signed URL.
"""

from __future__ import annotations

import io
from typing import Any

import httpx
import orjson
from PIL import ExifTags, Image

UPLOAD = """mutation($input: ImageUploadInput!) { imageUpload(input: $input) {
  image { id status width height byteSize url thumb: url(variant: THUMBNAIL) } errors { code message } } }"""


def sample_photo(target_bytes: int = 5 * 1024 * 1024, *, width: int = 4000, height: int = 3000) -> bytes:
    """A 12-megapixel JPEG of about `target_bytes` (noise over a gradient compresses like a busy photo),
    with EXIF orientation and GPS, so the upload strips and rotates as it would a phone's photo."""
    base = Image.linear_gradient("L").resize((width, height))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif.get_ifd(ExifTags.IFD.GPSInfo).update({1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 29.0)})
    best = b""
    for sigma in (8, 16, 24, 32, 48, 64):
        noise = Image.effect_noise((width, height), sigma)
        im = Image.merge("RGB", (Image.blend(base, noise, 0.5), noise, base))
        out = io.BytesIO()
        im.save(out, "JPEG", quality=92, exif=exif)
        best = out.getvalue()
        if len(best) >= target_bytes:
            break
    return best


async def upload_photo(
    http: httpx.AsyncClient,
    token: str,
    photo: bytes,
    *,
    purpose: str = "AVATAR",
    group_id: str | None = None,
    filename: str = "IMG_0001.jpg",
) -> dict[str, Any]:
    """imageUpload over HTTP; the Image (id, status, size, signed URLs) or an AssertionError with the answer."""
    operations = {"query": UPLOAD, "variables": {"input": {"file": None, "purpose": purpose, "groupId": group_id}}}
    response = await http.post(
        "/graphql",
        data={"operations": orjson.dumps(operations).decode(), "map": '{"0": ["variables.input.file"]}'},
        files={"0": (filename, photo, "image/jpeg")},
        headers={"authorization": f"Bearer {token}", "apollo-require-preflight": "true"},
    )
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    payload = body["data"]["imageUpload"]
    assert payload["errors"] == [], payload["errors"]
    return payload["image"]  # type: ignore[no-any-return]
