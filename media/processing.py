"""Turning uploaded bytes into an image we are willing to store: sniffed, limited, re-encoded.

Synchronous and CPU-bound (about 0.3 s for a 12-megapixel phone photo): callers run `process` on the
bounded CPU pool (core.cpu.run), never on the event loop.

- The type comes from the bytes (Pillow's identification, restricted to JPEG, PNG, WebP and GIF);
  a name or a declared type is never believed. A file whose name or declared type says one of these
  formats while its bytes are another is refused as a mismatch (MEDIA_TYPE_MISMATCH): a client that
  lies about what it sends is broken or probing, and we do not guess for it.
- Size is checked before anything parses the bytes; width x height is read from the header and
  checked before a single pixel is decoded, so a decompression bomb (a tiny PNG that claims 400
  megapixels) costs a header read.
- Animated GIFs (and animated WebP/PNG) keep their first frame only: the rest would multiply the
  decode cost and the bomb surface, and a still is what a health community's posts need.
- Every image is re-encoded: JPEG without transparency, WebP where there is transparency. The new file
  carries no metadata at all: no EXIF (GPS position, camera serial, time), no XMP, no comments, no
  ICC profile (the pixels are converted to sRGB first, so colours stay right). The EXIF orientation is
  applied to the pixels before it is dropped, so portrait photos stay upright.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import PurePosixPath

from PIL import Image, ImageCms, UnidentifiedImageError

from media import errors

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
_BY_EXTENSION = {".jpg": "JPEG", ".jpeg": "JPEG", ".jfif": "JPEG", ".png": "PNG", ".webp": "WEBP", ".gif": "GIF"}
_BY_CONTENT_TYPE = {
    "image/jpeg": "JPEG",
    "image/jpg": "JPEG",
    "image/pjpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/gif": "GIF",
}
# EXIF orientation -> the transpose that makes the pixels upright (what ImageOps.exif_transpose does;
# applied after scaling down, where it moves a quarter of the pixels).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SRGB = ImageCms.createProfile("sRGB")
MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pixels: int
    max_side: int
    thumbnail_side: int
    quality: int


@dataclass(frozen=True)
class Encoded:
    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class Processed:
    source_format: str  # what the bytes were: JPEG, PNG, WEBP or GIF
    content_type: str  # what we store: image/jpeg or image/webp
    extension: str  # jpg or webp
    original: Encoded
    thumbnail: Encoded


def check_size(size: int, limits: Limits) -> None:
    """The cheap check, before the bytes are read into memory or parsed."""
    if size == 0:
        raise errors.EmptyFile()
    if size > limits.max_bytes:
        raise errors.TooLarge(f"图片不能超过{limits.max_bytes // MB}MB")


def claimed_format(filename: str | None, content_type: str | None) -> str | None:
    """The format a file's name or declared type says it is (None when it names none we know)."""
    declared = _BY_CONTENT_TYPE.get((content_type or "").split(";")[0].strip().lower())
    if declared is not None:
        return declared
    return _BY_EXTENSION.get(PurePosixPath((filename or "").replace("\\", "/")).suffix.lower())


def process(data: bytes, limits: Limits, *, filename: str | None = None, content_type: str | None = None) -> Processed:
    """The stored original and thumbnail of an upload, or the DomainError that refuses it."""
    check_size(len(data), limits)
    # Pillow's own guard, at our limit: it raises at twice this many pixels even before our check.
    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    try:
        opened = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)  # reads the header only
    except UnidentifiedImageError as exc:
        raise errors.TypeUnsupported() from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels(limits) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # a known format with a broken header
        raise errors.Damaged() from exc
    im: Image.Image = opened
    source = str(opened.format)
    claimed = claimed_format(filename, content_type)
    if claimed is not None and claimed != source:
        raise errors.TypeMismatch(f"文件声明为 {claimed}，实际内容是 {source}")
    width, height = im.size
    if width < 1 or height < 1 or width * height > limits.max_pixels:
        raise _too_many_pixels(limits)
    try:
        orientation = im.getexif().get(0x0112)
        icc = im.info.get("icc_profile")
        if source == "JPEG":
            # libjpeg decodes at 1/2, 1/4 or 1/8 scale when that still covers the stored size: a
            # 24-megapixel photo is decoded at 6 megapixels instead of being scaled down afterwards.
            im.draft(im.mode, _fit((width, height), limits.max_side))
        im.load()
        alpha = _has_alpha(im)
        target = "RGBA" if alpha else ("CMYK" if im.mode == "CMYK" else "RGB")
        if im.mode != target:
            im = im.convert(target)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise errors.Damaged() from exc
    if max(im.size) > limits.max_side:
        # Bicubic: a third cheaper than Lanczos at these scales, with no visible difference.
        im = im.resize(_fit(im.size, limits.max_side), Image.Resampling.BICUBIC, reducing_gap=2.0)
    im = _to_srgb(im, icc, alpha)
    if orientation in _ORIENTATION:
        im = im.transpose(_ORIENTATION[orientation])
    im.info = {}  # nothing of the source's metadata may reach the encoder
    original = _encode(im, alpha, limits.quality)
    thumb = im.resize(_fit(im.size, limits.thumbnail_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    thumbnail = _encode(thumb, alpha, limits.quality)
    return Processed(
        source_format=source,
        content_type="image/webp" if alpha else "image/jpeg",
        extension="webp" if alpha else "jpg",
        original=original,
        thumbnail=thumbnail,
    )


def _too_many_pixels(limits: Limits) -> errors.TooManyPixels:
    return errors.TooManyPixels(f"图片尺寸过大（最多{limits.max_pixels // 10_000}万像素）")


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    """`size` scaled down (never up) so its long side is at most `side`, keeping the aspect ratio."""
    width, height = size
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _to_srgb(im: Image.Image, icc: bytes | None, alpha: bool) -> Image.Image:
    """The pixels in sRGB, as the encoders write them without a profile. A photo in Display P3 (every
    recent iPhone) would look washed out if its profile were just dropped; a broken profile is ignored."""
    mode = "RGBA" if alpha else "RGB"
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(im, source, _SRGB, outputMode=mode)
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass
    return im if im.mode == mode else im.convert(mode)


def _encode(im: Image.Image, alpha: bool, quality: int) -> Encoded:
    out = io.BytesIO()
    if alpha:
        im.save(out, "WEBP", quality=quality, method=4)
    else:
        im.save(out, "JPEG", quality=quality)  # baseline: progressive costs 7x the encode time
    return Encoded(out.getvalue(), im.width, im.height)
