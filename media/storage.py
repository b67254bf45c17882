"""Where image files live: local disk under the data directory (the default) or any S3-compatible store.

Both keep the same keys (`images/2026/12/<id>.jpg`), so a deployment can move from one to the other
by copying the files. Nothing here decides who may read a file: the bucket or directory is private and
every read goes through the signed URL route (media/urls.py, api/media/serve.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import structlog
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from media.config import MediaSettings, get_media_settings

log = structlog.get_logger(__name__)
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Stored:
    """A file to send: a local path (sent by the server without reading it into memory) or chunks."""

    size: int
    path: Path | None = None
    chunks: AsyncIterator[bytes] | None = None


class Storage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes | None: ...

    async def open(self, key: str) -> Stored | None: ...

    async def delete(self, key: str) -> None: ...

    async def close(self) -> None: ...


class LocalStorage:
    """Files under one directory; written to a temporary name and renamed, so a reader never sees half a
    file. Disk calls run in a worker thread (the default executor, not the CPU pool: they wait, not compute)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not key or key.startswith("/") or self.root.resolve() not in path.parents:
            raise ValueError(f"storage key outside the media directory: {key!r}")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, self._path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def open(self, key: str) -> Stored | None:
        path = self._path(key)
        try:
            size = (await asyncio.to_thread(path.stat)).st_size
        except FileNotFoundError:
            return None
        return Stored(size=size, path=path)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)

    async def close(self) -> None:
        return None


class S3Storage:
    """Any S3-compatible store through aiobotocore (SigV4 signing, retries, connection pooling).

    One client per process, made on first use and kept (making one loads the service model, tens of
    milliseconds). Checksums are sent and checked only where S3 requires them: botocore's newer
    default (a CRC32 trailer on every upload) is refused by some S3-compatible stores.
    """

    def __init__(
        self,
        *,
        bucket: str,
        access_key: str,
        secret_key: str,
        endpoint: str = "",
        region: str = "us-east-1",
        addressing: str = "virtual",
        prefix: str = "",
        timeout: float = 10,
    ) -> None:
        if not bucket or not access_key or not secret_key:
            raise ValueError("S3 storage needs PORTAL_MEDIA_S3_BUCKET, _ACCESS_KEY and _SECRET_KEY")
        self.bucket = bucket
        self.prefix = prefix
        self._options: dict[str, Any] = {
            "region_name": region,
            "endpoint_url": endpoint or None,
            "aws_access_key_id": access_key,
            "aws_secret_access_key": secret_key,
            "config": AioConfig(
                signature_version="s3v4",
                s3={"addressing_style": addressing},
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"max_attempts": 3, "mode": "standard"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        }
        self._client: Any = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._lock = asyncio.Lock()

    async def _get_client(self) -> Any:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    stack = contextlib.AsyncExitStack()
                    self._client = await stack.enter_async_context(get_session().create_client("s3", **self._options))
                    self._stack = stack
        return self._client

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        client = await self._get_client()
        await client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)

    async def get(self, key: str) -> bytes | None:
        found = await self.open(key)
        if found is None or found.chunks is None:
            return None
        return b"".join([chunk async for chunk in found.chunks])

    async def open(self, key: str) -> Stored | None:
        client = await self._get_client()
        try:
            answer = await client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        body = answer["Body"]

        async def chunks() -> AsyncIterator[bytes]:
            async with body:  # the connection goes back to the pool even when the client hangs up
                async for chunk in body.iter_chunks(CHUNK):
                    yield chunk

        return Stored(size=int(answer.get("ContentLength") or 0), chunks=chunks())

    async def delete(self, key: str) -> None:
        client = await self._get_client()
        await client.delete_object(Bucket=self.bucket, Key=self._key(key))

    async def close(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()


def storage_from(settings: MediaSettings) -> Storage:
    if settings.storage == "s3":
        return S3Storage(
            bucket=settings.s3_bucket,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            endpoint=settings.s3_endpoint,
            region=settings.s3_region,
            addressing=settings.s3_addressing,
            prefix=settings.s3_prefix,
            timeout=settings.s3_timeout_seconds,
        )
    return LocalStorage(settings.local_dir)


@lru_cache(maxsize=1)
def get_storage() -> Storage:
    return storage_from(get_media_settings())


async def close_storage() -> None:
    """At shutdown (and in tests that switch storage): the S3 client's connections closed."""
    if get_storage.cache_info().currsize:
        await get_storage().close()
    get_storage.cache_clear()
