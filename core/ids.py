"""Primary keys: UUIDv7 (time-ordered) so B-tree inserts stay local and ids sort by creation."""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime


def new_id() -> uuid.UUID:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def first_id_at(moment: datetime) -> uuid.UUID:
    """The smallest id `new_id` makes at `moment` (timezone-aware): every id made before it sorts lower,
    so a range of ids is a range of creation times (a walk over a big table by its primary key)."""
    ms = int(moment.timestamp() * 1000)
    return uuid.UUID(int=((ms & ((1 << 48) - 1)) << 80) | (0x7 << 76) | (0b10 << 62))
