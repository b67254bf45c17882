"""A load generator's HTTP/1.1 client: one keep-alive connection over asyncio streams, the request
written as one buffer, the answer read by Content-Length or chunks.

The benchmarks run their clients on the same two cores as the API. httpx spends ~2 ms of CPU per
request (~0.4 core at 170 req/s), taken from the server being measured; this costs ~0.1 ms, like
the C load generators (wrk, oha) a real load test would use.
"""

from __future__ import annotations

import asyncio


def http_request(port: int, token: str | None, body: bytes, path: str = "/graphql") -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"{auth}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, whether the server keeps the connection open)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    keep = b"connection: close" not in lower
    at = lower.find(b"content-length:")
    if at >= 0:
        length = int(lower[at + 15 : lower.index(b"\r\n", at)])
        return status, await reader.readexactly(length), keep
    body = b""  # chunked
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body, keep
        body += chunk[:-2]


class Http1:
    """One closed-loop client's connection; reopened when the server closed it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes, token: str | None = None, path: str = "/graphql") -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self._reader is not None
        try:
            self._writer.write(http_request(self.port, token, body, path))
            status, answer, keep = await read_response(self._reader)
        except BaseException:
            self.close()
            raise
        if not keep:
            self.close()
        return status, answer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def __aenter__(self) -> Http1:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
