"""The tus 1.0 wire: versions, extensions and the headers' forms (https://tus.io/protocols/resumable-upload).

Spoken here: core, ``creation`` (and ``creation-with-upload``), ``checksum`` (sha1, sha256),
``termination`` and ``expiration``. ``Upload-Defer-Length`` and ``concatenation`` are not.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from backend.errors import TusProtocolError, TusVersionUnsupported

UPLOADS_PATH = "/api/v1/uploads"
VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
CHECKSUM_ALGORITHMS = ("sha1", "sha256")
OFFSET_OCTET_STREAM = "application/offset+octet-stream"

_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_INTEGER = re.compile(r"^[0-9]{1,15}$")
MAX_METADATA = 4096


def check_version(headers: Mapping[str, str]) -> None:
    """Every request but OPTIONS names the protocol version it speaks."""
    given = headers.get("tus-resumable")
    if given != VERSION:
        raise TusVersionUnsupported(
            f"需要 Tus-Resumable: {VERSION}（收到 {given!r}）", tus_version=VERSION
        )


def integer_header(headers: Mapping[str, str], name: str) -> int:
    value = headers.get(name.lower())
    if value is None or _INTEGER.fullmatch(value.strip()) is None:
        raise TusProtocolError(f"{name} 必须是非负整数（收到 {value!r}）")
    return int(value.strip())


def parse_metadata(value: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64(value)`` pairs; values must be UTF-8 text."""
    if not value:
        return {}
    if len(value) > MAX_METADATA:
        raise TusProtocolError(f"Upload-Metadata 过长（上限 {MAX_METADATA} 字符）")
    pairs: dict[str, str] = {}
    for item in value.split(","):
        key, _, encoded = item.strip().partition(" ")
        if not _KEY.fullmatch(key) or key in pairs:
            raise TusProtocolError(f"Upload-Metadata 的键不合规或重复：{key[:64]!r}")
        try:
            text = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise TusProtocolError(
                f"Upload-Metadata 中 {key} 的值不是 Base64 编码的 UTF-8"
            ) from exc
        if "\x00" in text:
            raise TusProtocolError(f"Upload-Metadata 中 {key} 的值含有 NUL")
        pairs[key] = text
    return pairs


def encode_metadata(pairs: Mapping[str, str]) -> str:
    return ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}" if v else k for k, v in pairs.items()
    )


@dataclass(frozen=True, slots=True)
class Checksum:
    algorithm: str
    expected: bytes

    def new(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)


def parse_checksum(value: str | None) -> Checksum | None:
    """``Upload-Checksum: <algorithm> <base64 digest>``."""
    if value is None:
        return None
    algorithm, _, encoded = value.strip().partition(" ")
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise TusProtocolError(
            f"不支持的校验算法 {algorithm[:20]!r}；支持 {', '.join(CHECKSUM_ALGORITHMS)}",
            tus_checksum_algorithm=",".join(CHECKSUM_ALGORITHMS),
        )
    try:
        expected = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error as exc:
        raise TusProtocolError("Upload-Checksum 的摘要不是 Base64") from exc
    if len(expected) != hashlib.new(algorithm).digest_size:
        raise TusProtocolError(f"Upload-Checksum 的 {algorithm} 摘要长度不对")
    return Checksum(algorithm, expected)


def http_date(moment: datetime) -> str:
    """``Upload-Expires`` is an RFC 9110 date."""
    return format_datetime(moment, usegmt=True)
