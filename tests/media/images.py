"""Test images made with Pillow in the test (no binary fixtures)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image, ImageCms

GPS = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 29.0)}  # Tiananmen Square


def photo(width: int = 1200, height: int = 800, *, gps: bool = True, orientation: int | None = None) -> bytes:
    """A JPEG as a phone writes it: EXIF with the GPS position, camera model, orientation; an ICC profile."""
    im = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    im.paste((200, 30, 30), (0, 0, width // 4, height // 4))  # a red corner: shows where "up" is
    exif = Image.Exif()
    exif[ExifTags.Base.Model] = "iPhone 15"
    exif[ExifTags.Base.Make] = "Apple"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    im.save(out, "JPEG", quality=92, exif=exif, icc_profile=icc, comment=b"secret comment")
    return out.getvalue()


def png(width: int = 300, height: int = 200, *, alpha: bool = False) -> bytes:
    im = Image.new("RGBA" if alpha else "RGB", (width, height), (10, 120, 200, 128) if alpha else (10, 120, 200))
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (60, 40), color) for color in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def bmp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20)).save(out, "BMP")
    return out.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A PNG of a few hundred bytes whose header claims width x height pixels (a decompression bomb:
    decoding it would need width x height x 3 bytes)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 4096))
        + chunk(b"IEND", b"")
    )


def opened(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im
