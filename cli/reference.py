"""Reference data every deployment needs (earning rules, tiers, system accounts, the word list,
the consent notices).

Idempotent: inserts what is missing and never overwrites what admins changed.
"""

from __future__ import annotations

import structlog
from redis.exceptions import RedisError

from community.wordlist import ensure_default_words
from core import queue, versions
from core.db import dispose_engine, unit_of_work
from core.settings import get_settings
from loyalty.defaults import ensure_defaults
from messaging.templates import CONDITIONS_VERSION
from patients.notices import ensure_default_notices

log = structlog.get_logger("cli.reference")


async def ensure_reference_data() -> None:
    try:
        async with unit_of_work() as session:
            await ensure_defaults(session)
            await ensure_default_words(session)
            await ensure_default_notices(session)
    finally:
        await dispose_engine()  # this runs in its own event loop (migrate is synchronous)
    await _reference_data_changed()


async def _reference_data_changed() -> None:
    """Migrations write the condition catalogue: running API processes and workers drop their copy
    of it (core/versions.py). A migration job without Redis still succeeds; the copies then expire
    on their own within their TTL."""
    if not get_settings().redis_url:
        return
    try:
        await versions.bump(CONDITIONS_VERSION)
    except (RedisError, OSError) as exc:
        log.warning("reference_version_not_bumped", error=type(exc).__name__)
    finally:
        await queue.close_pool()
