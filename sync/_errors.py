"""The error hierarchy of ``sync``."""

from __future__ import annotations


class SyncError(Exception):
    """Base of every error raised by ``sync``."""


class CanonicalFormError(SyncError, ValueError):
    """A value cannot be put in canonical form (a float, a non-JSON type, a huge integer)."""
