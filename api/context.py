"""Per-request GraphQL context: the actor, read access to the database and the DataLoaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from core.db import RequestDB
from core.identity import Actor

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
Params = ParamSpec("Params")

# A batch function: (session, the keys) -> what it found by key; a key it leaves out loads as None
# (or as an empty list for a `many` loader). Its keys parameter is typed by each function (a list of
# UUIDs, of tuples, ...), so it is Any here.
BatchFn = Callable[[AsyncSession, Any], Awaitable[Mapping[K, V]]]


class Loaders:
    """One DataLoader per batch function per request, so a field never costs a query per row."""

    def __init__(self, db: RequestDB) -> None:
        self._db = db
        self._loaders: dict[Hashable, DataLoader[Any, Any]] = {}

    def get(self, fn: BatchFn[K, Any], *, many: bool = False, extra: Hashable = None) -> DataLoader[K, Any]:
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
    # How the operation arrived, as the PHI read audit records it (`graphql:<root fields>`); the staff
    # console runs the same operations in-process and says `console`.
    channel: str = "graphql"
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.db)

    async def read(
        self,
        fn: Callable[Concatenate[AsyncSession, Actor, Params], Awaitable[V]],
        /,
        *args: Params.args,
        **kwargs: Params.kwargs,
    ) -> V:
        """One domain read as the request's actor, `fn(session, actor, *args, **kwargs)`, on the request's
        read session (the primary once the request wrote); what it returns is used after the session
        is given back, so it must not load lazily."""
        async with self.db.read() as session:
            return await fn(session, self.actor, *args, **kwargs)

    async def load(self, fn: BatchFn[K, V], key: K) -> V | None:
        found: V | None = await self.loaders.get(fn).load(key)
        return found

    async def load_found(self, fn: BatchFn[K, V], key: K) -> V:
        """`load` for a batch function that answers every key (a balance, a progress): None is a bug."""
        found = await self.load(fn, key)
        if found is None:
            raise LookupError(f"{getattr(fn, '__qualname__', fn)} left out {key!r}")
        return found

    async def load_many(self, fn: BatchFn[K, Sequence[V]], key: K) -> list[V]:
        found: list[V] = await self.loaders.get(fn, many=True).load(key)
        return found


Info = StrawberryInfo[Context, None]


def client_address(info: Info) -> str | None:
    """The caller's network address (uvicorn applies X-Forwarded-For from trusted proxies only)."""
    client = getattr(info.context.request, "client", None)
    return client.host if client is not None else None
