"""Sniffing, limits and re-encoding (media/processing.py), and that the work runs on the CPU pool."""

from __future__ import annotations

import io
import threading
import time
import uuid
from typing import Any

import pytest
from PIL import ExifTags, Image

from core.identity import Actor, ActorKind
from media import errors, processing, service
from media.models import ImagePurpose
from tests.media import images

LIMITS = processing.Limits(
    max_bytes=10 * 1024 * 1024, max_pixels=40_000_000, max_side=2560, thumbnail_side=400, quality=85
)


def test_a_phone_photo_comes_back_without_exif_gps_comment_or_profile_and_upright():
    source = images.photo(1200, 800, orientation=6)  # EXIF: rotate 90° clockwise to show
    assert images.opened(source).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the position is there
    done = processing.process(source, LIMITS, filename="IMG_0001.JPG", content_type="image/jpeg")
    for variant in (done.original, done.thumbnail):
        im = images.opened(variant.data)
        assert im.format == "JPEG"
        assert len(im.getexif()) == 0  # no EXIF at all: no GPS, no camera model, no orientation left
        assert "exif" not in im.info and "icc_profile" not in im.info and "comment" not in im.info
        assert b"iPhone" not in variant.data and b"Apple" not in variant.data
    original = images.opened(done.original.data)
    # The orientation went into the pixels: 1200 x 800 shown rotated is 800 wide, 1200 high, and the
    # red corner (top left as stored) is now at the top right.
    assert (original.width, original.height) == (done.original.width, done.original.height) == (800, 1200)
    red, _, blue = original.convert("RGB").getpixel((original.width - 20, 20))
    assert red > 150 and blue < 80
    assert done.source_format == "JPEG" and done.content_type == "image/jpeg" and done.extension == "jpg"


def test_thumbnails_fit_the_box_and_large_photos_are_scaled_to_the_long_side():
    done = processing.process(images.photo(3000, 1000, gps=False), LIMITS)
    assert (done.original.width, done.original.height) == (2560, 853)
    assert (done.thumbnail.width, done.thumbnail.height) == (400, 133)
    assert images.opened(done.thumbnail.data).size == (400, 133)
    small = processing.process(images.png(120, 90), LIMITS)
    assert (small.original.width, small.original.height) == (120, 90)  # never scaled up
    assert (small.thumbnail.width, small.thumbnail.height) == (120, 90)


def test_transparency_is_kept_as_webp_and_opaque_pngs_become_jpeg():
    clear = processing.process(images.png(alpha=True), LIMITS, filename="logo.png")
    assert clear.content_type == "image/webp" and images.opened(clear.original.data).mode == "RGBA"
    opaque = processing.process(images.png(), LIMITS, filename="chart.png")
    assert opaque.content_type == "image/jpeg" and opaque.source_format == "PNG"


def test_an_animated_gif_keeps_its_first_frame_only():
    done = processing.process(images.animated_gif(), LIMITS, filename="hello.gif")
    im = images.opened(done.original.data)
    assert done.source_format == "GIF" and im.format == "JPEG" and getattr(im, "n_frames", 1) == 1
    red, green, _ = im.getpixel((30, 20))
    assert red > 200 and green < 60


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "error", "code"),
    [
        (images.png(), "photo.jpg", None, errors.TypeMismatch, "MEDIA_TYPE_MISMATCH"),
        (images.png(), "photo.png", "image/jpeg", errors.TypeMismatch, "MEDIA_TYPE_MISMATCH"),
        (
            b"just some text, not a picture\n" * 10,
            "notes.png",
            "image/png",
            errors.TypeUnsupported,
            "MEDIA_TYPE_UNSUPPORTED",
        ),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "x.jpg", None, errors.TypeUnsupported, "MEDIA_TYPE_UNSUPPORTED"),
        (images.bmp(), "scan.jpg", None, errors.TypeUnsupported, "MEDIA_TYPE_UNSUPPORTED"),
        (b"", "empty.jpg", None, errors.EmptyFile, "MEDIA_EMPTY"),
        (images.photo(gps=False)[:2000], "cut.jpg", None, errors.Damaged, "MEDIA_DAMAGED"),
    ],
)
def test_the_type_comes_from_the_bytes_and_refusals_have_typed_codes(data, filename, content_type, error, code):
    with pytest.raises(error) as refused:
        processing.process(data, LIMITS, filename=filename, content_type=content_type)
    assert refused.value.code == code


def test_a_name_or_type_we_do_not_know_is_no_claim():
    assert processing.process(images.png(), LIMITS, filename="IMG_0002.HEIC").source_format == "PNG"
    assert processing.process(images.png(), LIMITS, content_type="application/octet-stream").source_format == "PNG"


@pytest.mark.parametrize(("width", "height"), [(7000, 7000), (30_000, 30_000)])
def test_a_decompression_bomb_is_refused_from_its_header_fast(width, height):
    bomb = images.png_bomb(width, height)
    assert len(bomb) < 1000
    started = time.perf_counter()
    with pytest.raises(errors.TooManyPixels) as refused:
        processing.process(bomb, LIMITS, filename="bomb.png")
    assert time.perf_counter() - started < 0.2  # no pixel was decoded (7000 x 7000 x 3 would be 147 MB)
    assert refused.value.code == "MEDIA_TOO_MANY_PIXELS" and "4000万像素" in refused.value.message


def test_an_oversized_file_is_refused_before_it_is_parsed():
    big = images.photo(200, 200, gps=False) + b"\x00" * LIMITS.max_bytes
    with pytest.raises(errors.TooLarge) as refused:
        processing.process(big, LIMITS, filename="big.jpg")
    assert refused.value.code == "MEDIA_TOO_LARGE" and "10MB" in refused.value.message
    with pytest.raises(errors.TooLarge):
        processing.check_size(LIMITS.max_bytes + 1, LIMITS)


def test_the_stored_photo_decodes_back_and_is_smaller():
    source = images.photo(2000, 1500)
    done = processing.process(source, LIMITS)
    assert Image.open(io.BytesIO(done.original.data)).size == (2000, 1500)
    assert len(done.thumbnail.data) < len(done.original.data)


async def test_upload_processing_runs_on_the_cpu_pool_not_the_event_loop(monkeypatch: pytest.MonkeyPatch):
    threads: list[str] = []
    real = processing.process

    def spy(*args: Any, **kwargs: Any) -> processing.Processed:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(processing, "process", spy)
    patient = Actor(kind=ActorKind.PATIENT, id=uuid.uuid4())
    session: Any = None  # never touched: the refusal comes from processing, before any statement
    with pytest.raises(errors.TypeUnsupported):
        await service.upload(session, patient, data=b"text" * 10, purpose=ImagePurpose.AVATAR)
    assert threads == [threads[0]] and threads[0].startswith("portal-cpu")
