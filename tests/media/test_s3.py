"""S3Storage against a local S3-compatible server that verifies SigV4 signatures (moto's server,
started in this process on a free loopback port): what Alibaba OSS, Tencent COS and MinIO check too."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer
from PIL import Image

from media.config import reset_media_settings
from media.storage import S3Storage, close_storage, get_storage
from tests.media import images
from tests.media.http import upload
from tests.support import signed_in_patient

BUCKET = "portal-media"
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    """The server, a user with an access key allowed to use S3, and a bucket. After the first four
    calls (made with any key, to set this up) every request must carry a valid signature."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"4").raise_for_status()
        setup = {"endpoint_url": endpoint, "region_name": "us-east-1"}
        iam = boto3.client("iam", aws_access_key_id="setup", aws_secret_access_key="setup", **setup)
        iam.create_user(UserName="portal")
        key = iam.create_access_key(UserName="portal")["AccessKey"]
        iam.put_user_policy(UserName="portal", PolicyName="media", PolicyDocument=json.dumps(POLICY))
        boto3.client(
            "s3", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], **setup
        ).create_bucket(Bucket=BUCKET)
        yield {"endpoint": endpoint, "access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}
    finally:
        httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"inf")
        server.stop()


def _storage(s3: dict[str, str], **changes: Any) -> S3Storage:
    options: dict[str, Any] = {
        "bucket": BUCKET,
        "access_key": s3["access_key"],
        "secret_key": s3["secret_key"],
        "endpoint": s3["endpoint"],
        "addressing": "path",
        "prefix": "portal/",
    }
    return S3Storage(**{**options, **changes})


async def test_objects_are_put_read_streamed_and_deleted_with_signed_requests(s3):
    storage = _storage(s3)
    key = f"images/2026/12/{uuid.uuid4()}.jpg"
    try:
        await storage.put(key, b"\xff\xd8 not really a jpeg", "image/jpeg")
        assert await storage.get(key) == b"\xff\xd8 not really a jpeg"
        found = await storage.open(key)
        assert found is not None and found.size == 20 and found.path is None and found.chunks is not None
        assert b"".join([c async for c in found.chunks]) == b"\xff\xd8 not really a jpeg"
        listed = boto3.client(  # the prefix is part of the stored key
            "s3",
            endpoint_url=s3["endpoint"],
            region_name="us-east-1",
            aws_access_key_id=s3["access_key"],
            aws_secret_access_key=s3["secret_key"],
        ).list_objects_v2(Bucket=BUCKET, Prefix="portal/images/")
        assert f"portal/{key}" in [o["Key"] for o in listed["Contents"]]
        await storage.delete(key)
        assert await storage.get(key) is None and await storage.open(key) is None
    finally:
        await storage.close()


async def test_a_wrong_secret_is_refused_by_the_server(s3):
    forged = _storage(s3, secret_key="not-the-secret-" + "x" * 25)
    try:
        with pytest.raises(ClientError) as refused:
            await forged.put("images/x.jpg", b"x", "image/jpeg")
        assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    finally:
        await forged.close()
    with pytest.raises(ValueError):
        S3Storage(bucket=BUCKET, access_key="", secret_key="")


async def test_an_upload_through_the_app_lands_in_the_bucket_and_is_served_from_it(
    client, s3, monkeypatch: pytest.MonkeyPatch
):
    for name, value in {
        "STORAGE": "s3",
        "S3_ENDPOINT": s3["endpoint"],
        "S3_BUCKET": BUCKET,
        "S3_ACCESS_KEY": s3["access_key"],
        "S3_SECRET_KEY": s3["secret_key"],
        "S3_ADDRESSING": "path",
    }.items():
        monkeypatch.setenv(f"PORTAL_MEDIA_{name}", value)
    reset_media_settings()
    await close_storage()
    assert isinstance(get_storage(), S3Storage)
    patient, _ = await signed_in_patient(client)
    image = (await upload(client, patient.access, images.photo(900, 600), purpose="AVATAR"))["image"]
    assert image["status"] == "HELD"
    served = await client.get(image["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert int(served.headers["content-length"]) == len(served.content) == image["byteSize"]
    stored = Image.open(io.BytesIO(served.content))
    assert stored.size == (900, 600) and len(stored.getexif()) == 0
    thumb = await client.get(image["thumb"])
    assert Image.open(io.BytesIO(thumb.content)).size == (400, 267)
