"""Images uploaded in these tests are stored in a temporary directory (never the project's .data/)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
async def media_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Path]:
    from media.config import reset_media_settings
    from media.storage import close_storage

    root = tmp_path / "media"
    monkeypatch.setenv("PORTAL_MEDIA_DIR", str(root))
    reset_media_settings()
    await close_storage()
    yield root
    monkeypatch.undo()
    reset_media_settings()
    await close_storage()
