"""Reference data every deployment needs (earning rules, tiers, system accounts, the word list).

Idempotent: inserts what is missing and never overwrites what admins changed.
"""

from __future__ import annotations

from community.wordlist import ensure_default_words
from core.db import dispose_engine, unit_of_work
from loyalty.defaults import ensure_defaults


async def ensure_reference_data() -> None:
    try:
        async with unit_of_work() as session:
            await ensure_defaults(session)
            await ensure_default_words(session)
    finally:
        await dispose_engine()  # this runs in its own event loop (migrate is synchronous)
