"""Files for the evidence tests, made on the spot: real images, disguised files, bombs."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib

from PIL import Image


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def jpeg(width: int = 640, height: int = 480, *, exif: bool = True, seed: int = 0) -> bytes:
    """A photo-like JPEG; with EXIF DateTimeOriginal (+08:00) and a GPS position in 南昌."""
    img = Image.effect_noise((width, height), 40 + seed).convert("RGB")
    out = io.BytesIO()
    if not exif:
        img.save(out, "JPEG", quality=85)
        return out.getvalue()
    data = Image.Exif()
    data[0x0112] = 6  # orientation: rotate for display
    sub = data.get_ifd(0x8769)
    sub[36867] = "2026:11:30 10:15:42"
    sub[36881] = "+08:00"
    gps = data.get_ifd(0x8825)
    gps[1], gps[2] = "N", (28.0, 40.0, 55.2)
    gps[3], gps[4] = "E", (115.0, 53.0, 31.8)
    img.save(out, "JPEG", quality=85, exif=data)
    return out.getvalue()


def png(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def webp(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 200, 30)).save(out, "WEBP")
    return out.getvalue()


def png_bomb(width: int = 12_000, height: int = 12_000) -> bytes:
    """A valid 1-bit PNG of width × height pixels, all zero, compressed to a few kilobytes."""
    raw = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    body = b"".join(raw.compress(row) for _ in range(height)) + raw.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def html() -> bytes:
    return b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def svg() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9"/></svg>'


def zip_file() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("a.txt", "这不是照片" * 50)
    return out.getvalue()


def jpeg_magic_then_garbage() -> bytes:
    return b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


def truncated_jpeg() -> bytes:
    whole = jpeg(exif=False)
    return whole[: len(whole) // 2]
