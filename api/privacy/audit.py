"""The PHI read audit around every GraphQL operation of a staff member (privacy/reads.py).

The domain services record each staff read of health data as they hand it out; this extension opens
the ReadLog they record into for the operation and writes it with one insert when execution ends,
before the answer leaves, through a unit of work on the primary (the request's reads may run on a
replica and are never committed). No health data leaves unrecorded: when the write fails, the answer
carries no data, only the error (masked, or a 503 when the database is down). Subscription events are
written as each event is produced.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import structlog
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from core.db import unit_of_work
from core.identity import Actor
from privacy import reads

log = structlog.get_logger("api.privacy")
CHANNEL = "graphql"


def _root_fields(document: DocumentNode | None, operation_name: str | None) -> list[str]:
    """The root field names the operation selects (through fragments too), in document order."""
    if document is None:
        return []
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = next((o for o in operations if o.name and o.name.value == operation_name), None)
    if chosen is None and operations:
        chosen = operations[0]
    names: list[str] = []
    seen_fragments: set[str] = set()

    def walk(selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value != "__typename":
                    names.append(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in fragments and name not in seen_fragments:
                    seen_fragments.add(name)
                    walk(fragments[name].selection_set)

    if chosen is not None:
        walk(chosen.selection_set)
    return list(dict.fromkeys(names))


class PhiReadAudit(SchemaExtension):
    def __init__(self) -> None:
        super().__init__()
        self._log: reads.ReadLog | None = None

    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        actor = getattr(context, "actor", None)
        if not isinstance(actor, Actor) or not reads.audited(actor):
            yield
            return
        channel = getattr(context, "channel", CHANNEL)
        with reads.collecting(through=channel, request_id=getattr(context, "request_id", None)) as read_log:
            self._log = read_log
            yield
        if len(read_log):  # nothing is read outside execution today; never drop a read silently
            try:
                await self._write()
            except Exception:
                log.exception("phi_reads_unwritten", count=len(read_log))

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        await self._write_or_fail(self.execution_context.result)

    async def on_stream_result(self, result: Any) -> AsyncIterator[None]:
        await self._write_or_fail(result)  # a subscription event, before it is sent
        yield

    async def _write_or_fail(self, result: Any) -> None:
        try:
            await self._write()
        except Exception as exc:
            if result is None:
                raise
            # The reads happened but are not on record: the data does not go out.
            result.data = None
            result.errors = [GraphQLError("健康信息查看记录写入失败", original_error=exc)]

    async def _write(self) -> None:
        read_log = self._log
        if read_log is None or not len(read_log):
            return
        context = self.execution_context.context
        fields = _root_fields(self.execution_context.graphql_document, self.execution_context.operation_name)
        channel = getattr(context, "channel", CHANNEL)
        read_log.through = f"{channel}:{','.join(fields)}" if fields else channel
        db = getattr(context, "db", None)
        if db is not None:
            await db.release()  # one pooled connection at a time, as in api/mutations.py
        async with unit_of_work() as session:
            await reads.flush(session, read_log)
