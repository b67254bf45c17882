"""Settings of images (prefix PORTAL_MEDIA_), owned by the domain.

Storage: `local` (the default) keeps files under PORTAL_MEDIA_DIR, by default `<data dir>/media`;
`s3` keeps them in any S3-compatible store: Alibaba Cloud OSS (endpoint
https://oss-cn-hangzhou.aliyuncs.com), Tencent Cloud COS (https://cos.ap-guangzhou.myqcloud.com),
MinIO (http://minio:9000, with PORTAL_MEDIA_S3_ADDRESSING=path) or AWS S3. The bucket stays private:
every image is served by this API through a signed, expiring URL (media/urls.py).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.settings import get_settings

MB = 1024 * 1024


class MediaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_MEDIA_", extra="ignore")

    storage: Literal["local", "s3"] = "local"
    dir: Path | None = None  # local storage root; None: <PORTAL_DATA_DIR>/media

    s3_endpoint: str = ""  # e.g. https://oss-cn-hangzhou.aliyuncs.com; empty: AWS S3 of s3_region
    s3_bucket: str = ""
    s3_region: str = "us-east-1"  # OSS: oss-cn-hangzhou; COS: ap-guangzhou; MinIO: any
    s3_access_key: str = ""
    s3_secret_key: str = ""
    # OSS and COS only accept virtual-hosted style (bucket.endpoint); MinIO usually wants path style.
    s3_addressing: Literal["virtual", "path"] = "virtual"
    s3_prefix: str = ""  # keys go under this prefix, e.g. "portal/" (one bucket for several uses)
    s3_timeout_seconds: float = 10

    # Uploads: refused above this size before anything decodes them, and above this many pixels
    # (width x height, read from the header) before the pixels are decoded (decompression bombs).
    max_bytes: int = Field(default=10 * MB, ge=1024, le=50 * MB)
    max_pixels: int = Field(default=40_000_000, ge=10_000, le=200_000_000)
    # The stored image is scaled down to this long side (a phone photo of 4000 x 3000 becomes
    # 2560 x 1920): smaller files for every reader, and the encode costs a third.
    max_side: int = Field(default=2560, ge=256, le=10_000)
    thumbnail_side: int = Field(default=400, ge=64, le=1024)
    quality: int = Field(default=85, ge=50, le=95)
    uploads_per_hour: int = Field(default=60, ge=1)

    # Signed URLs: anyone with a public image's URL may fetch it until it expires; an image of a
    # members-only group, or one still held for moderation, gets a URL bound to its viewer that lives
    # a shorter time. Expiries are rounded up to the next whole window, so one page load and the next
    # get the same URL (the browser's cache keeps working).
    url_ttl_seconds: int = Field(default=6 * 3600, ge=60)
    private_url_ttl_seconds: int = Field(default=15 * 60, ge=60)

    @property
    def local_dir(self) -> Path:
        return self.dir if self.dir is not None else get_settings().data_dir / "media"

    @property
    def upload_body_limit(self) -> int:
        """A multipart request may carry one image of max_bytes plus the operation and the form's
        boundaries; every other request keeps the ordinary body cap."""
        return self.max_bytes + 64 * 1024


@lru_cache(maxsize=1)
def get_media_settings() -> MediaSettings:
    return MediaSettings()


def reset_media_settings() -> None:
    get_media_settings.cache_clear()
