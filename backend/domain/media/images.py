"""What an evidence file is, read from its bytes: the type, the size in pixels, its EXIF.

The name and the declared type count for nothing. The first bytes must be JPEG, PNG or
WebP; Pillow must then read the same format and decode the whole image within the pixel
limit, with its decompression-bomb warning raised as an error. EXIF is read into fields;
the stored original is never rewritten. Blocking: run in a worker thread.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from backend.errors import FileTooLarge, UnsupportedFileType

MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
THUMBNAIL_EDGE = 320
HEAD_BYTES = 12
NOT_AN_IMAGE = "文件内容不是 JPEG、PNG 或 WebP 图片（按内容判断，与文件名无关）"
"""How many leading bytes ``sniff`` needs."""

_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL = 36867, 36881


def sniff(head: bytes) -> str | None:
    """The format the leading bytes announce, or ``None`` (HTML, SVG, a zip, …)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(head) >= HEAD_BYTES and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def refuse_unless_image(head: bytes) -> None:
    """Refuse early, on the first chunk, what cannot become an accepted image."""
    if len(head) >= HEAD_BYTES and sniff(head) is None:
        raise UnsupportedFileType(NOT_AN_IMAGE)


@dataclass(frozen=True, slots=True)
class ImageFacts:
    media_type: str
    width: int
    height: int
    exif_taken_at: str | None
    exif_latitude: str | None
    exif_longitude: str | None


def examine(path: Path, *, max_pixels: int) -> ImageFacts:
    """Check the file at ``path`` is an accepted image within ``max_pixels``; read its facts.

    Reads the headers only (type, size in pixels, EXIF): a phone waits for this answer. The
    pixels are decoded afterwards, for the thumbnail (``thumbnail``).
    """
    with path.open("rb") as f:
        expected = sniff(f.read(HEAD_BYTES))
    if expected is None:
        raise UnsupportedFileType(NOT_AN_IMAGE)
    try:
        with Image.open(path, formats=[expected]) as img:
            width, height = img.size
            if width * height > max_pixels:
                raise FileTooLarge(
                    f"图片像素过多（{width}×{height}），上限 {max_pixels} 像素",
                    width=width,
                    height=height,
                    max_pixels=max_pixels,
                )
            if width < 1 or height < 1:
                raise UnsupportedFileType("图片没有像素")
            exif = img.getexif()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise FileTooLarge(f"图片像素过多，疑似解压炸弹：{exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UnsupportedFileType(f"无法作为 {expected} 图片读取：{exc}") from exc
    taken_at, latitude, longitude = _exif_fields(exif)
    return ImageFacts(
        media_type=MEDIA_TYPES[expected],
        width=width,
        height=height,
        exif_taken_at=taken_at,
        exif_latitude=latitude,
        exif_longitude=longitude,
    )


class Undecodable(Exception):
    """The image's pixels cannot be decoded whole (truncated or corrupt data)."""


def thumbnail(path: Path, *, max_pixels: int) -> bytes:
    """Decode the whole image and return a JPEG of at most ``THUMBNAIL_EDGE`` px, upright.

    A JPEG is decoded at the smallest DCT scale that still gives the thumbnail; every byte of
    its entropy-coded data is still read, so a truncated or corrupt file fails here.
    """
    try:
        with Image.open(path) as img:
            if img.width * img.height > max_pixels:
                raise Undecodable("图片像素过多")
            if img.format == "JPEG":
                img.draft("RGB", (THUMBNAIL_EDGE, THUMBNAIL_EDGE))
            img.load()
            upright = ImageOps.exif_transpose(img)
            upright.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
            out = io.BytesIO()
            upright.convert("RGB").save(out, "JPEG", quality=80)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise Undecodable(str(exc)[:180]) from exc
    return out.getvalue()


def guard_against_bombs(max_pixels: int) -> None:
    """Make Pillow's decompression-bomb warning an error above ``max_pixels``, process-wide.

    Set once when the app is made (a filter changed per call is not thread-safe); ``examine``
    ``examine``
    also compares the pixel count itself, so the limit holds even where the filter is not set.
    """
    Image.MAX_IMAGE_PIXELS = max_pixels
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def _exif_fields(exif: Image.Exif) -> tuple[str | None, str | None, str | None]:
    try:
        sub = exif.get_ifd(_EXIF_IFD)
        gps = exif.get_ifd(_GPS_IFD)
    except Exception:  # a broken EXIF block is no reason to refuse the photo
        return None, None, None
    return (
        _taken_at(sub.get(_DATETIME_ORIGINAL), sub.get(_OFFSET_TIME_ORIGINAL)),
        _coordinate(gps.get(2), gps.get(1), "N", "S", 90),
        _coordinate(gps.get(4), gps.get(3), "E", "W", 180),
    )


def _taken_at(value: Any, offset: Any) -> str | None:
    """EXIF ``YYYY:MM:DD HH:MM:SS`` as ISO 8601, with ``OffsetTimeOriginal`` when the file has it."""
    if not isinstance(value, str) or len(value) < 19:
        return None
    day, _, time = value[:19].partition(" ")
    parts = day.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or len(time) != 8:
        return None
    text = f"{parts[0]}-{parts[1]}-{parts[2]}T{time}"
    if isinstance(offset, str) and len(offset) == 6 and offset[0] in "+-" and offset[3] == ":":
        text += offset
    try:  # cameras write "0000:00:00 00:00:00" when they do not know
        datetime.fromisoformat(text)
    except ValueError:
        return None
    return text


def _coordinate(value: Any, ref: Any, positive: str, negative: str, limit: int) -> str | None:
    """Degrees, minutes, seconds as signed decimal degrees with six decimals (the records' form)."""
    try:
        degrees, minutes, seconds = (Fraction(str(float(part))) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    decimal = degrees + minutes / 60 + seconds / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    if ref not in (positive, negative) or decimal > limit:
        return None
    sign = "-" if ref == negative and decimal != 0 else ""
    return f"{sign}{float(decimal):.6f}"
