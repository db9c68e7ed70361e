"""Where evidence files live: a content-addressed store behind a small interface.

A file's key is the sha256 of its bytes (64 lowercase hex digits); derived files such as
thumbnails have keys of their own (``thumbnails/<digest>.jpg``). ``LocalBlobStore`` keeps
them under a folder of the data directory; an S3-compatible store implements the same
``BlobStore`` protocol (``put`` is a single PUT of a file that is already checked, ``open``
a ranged GET), so nothing above this module knows where the bytes are.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import BinaryIO, Protocol

_KEY = re.compile(r"^(?:[0-9a-f]{64}|thumbnails/[0-9a-f]{64}\.jpg)$")
COPY_CHUNK = 1024 * 1024


def check_key(key: str) -> str:
    """A key is a digest or a derived file's name; nothing else reaches the disk (no path tricks)."""
    if _KEY.fullmatch(key) is None:
        raise ValueError(f"not a storage key: {key[:80]!r}")
    return key


class BlobStore(Protocol):
    """Immutable files by key. Blocking calls: run them in a worker thread."""

    def has(self, key: str) -> bool: ...

    def size(self, key: str) -> int | None: ...

    def put(self, key: str, source: Path) -> None:
        """Take the (checked) file at ``source`` in under ``key``; ``source`` is gone afterwards.
        A key that is present already keeps its bytes (same key, same content)."""
        ...

    def open(self, key: str) -> BinaryIO: ...

    def local_path(self, key: str) -> Path | None:
        """The file on this machine's disk, when the store keeps it there (served directly)."""
        ...


class LocalBlobStore:
    """Files under ``root``, fanned out by the first two hex digits; written by rename after fsync."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        check_key(key)
        if "/" in key:
            folder, name = key.split("/", 1)
            return self.root / folder / name[:2] / name
        return self.root / key[:2] / key

    def has(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def put(self, key: str, source: Path) -> None:
        target = self._path(key)
        if target.is_file():
            source.unlink(missing_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(source, target)  # same file system: the spool lives beside the store
        except OSError:  # another device: copy, flush, then rename into place
            partial = target.with_name(target.name + ".partial")
            with source.open("rb") as src, partial.open("wb") as dst:
                shutil.copyfileobj(src, dst, COPY_CHUNK)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(partial, target)
            source.unlink(missing_ok=True)
        _fsync_dir(target.parent)

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
