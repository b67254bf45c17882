"""Per-request GraphQL context: the actor, read access to the database and the DataLoaders."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from core.db import RequestDB
from core.identity import Actor

BatchFn = Callable[[AsyncSession, Sequence[Any]], Awaitable[dict[Any, Any]]]


class Loaders:
    """One DataLoader per batch function per request, so a field never costs a query per row."""

    def __init__(self, db: RequestDB) -> None:
        self._db = db
        self._loaders: dict[Hashable, DataLoader[Any, Any]] = {}

    def get(self, fn: BatchFn, *, many: bool = False, extra: Hashable = None) -> DataLoader[Any, Any]:
        key = (fn, many, extra)
        loader = self._loaders.get(key)
        if loader is None:
            db = self._db

            async def load(keys: list[Any]) -> list[Any]:
                async with db.read() as session:
                    found = await fn(session, keys)
                return [list(found.get(k, ())) if many else found.get(k) for k in keys]

            loader = DataLoader(load_fn=load)
            self._loaders[key] = loader
        return loader


@dataclass
class Context:
    request: Request
    response: Response | None
    actor: Actor
    db: RequestDB
    request_id: str
    connection_params: dict[str, Any] | None = None  # websocket connection_init payload
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.db)

    async def load(self, fn: BatchFn, key: uuid.UUID | str) -> Any:
        return await self.loaders.get(fn).load(key)

    async def load_many(self, fn: BatchFn, key: uuid.UUID | str) -> list[Any]:
        return await self.loaders.get(fn, many=True).load(key)  # type: ignore[no-any-return]


Info = StrawberryInfo[Context, None]


def client_address(info: Info) -> str | None:
    """The caller's network address (uvicorn applies X-Forwarded-For from trusted proxies only)."""
    client = getattr(info.context.request, "client", None)
    return client.host if client is not None else None
