"""Typed settings, read only by ``create_app`` and the CLI (never at import time)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Literal

import msgspec

ENV_PREFIX = "ZSJG_"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the backend can be told from the outside.

    Each field can be set by an environment variable named ``ZSJG_`` + the field name in
    upper case, e.g. ``ZSJG_DATABASE_URL``.
    """

    data_dir: Path = Path("data")
    """Where the SQLite file, the signing keys and stored files live."""
    database_url: str = ""
    """SQLAlchemy URL; empty means the embedded SQLite file ``{data_dir}/zsjg.sqlite3``.
    Use ``postgresql+asyncpg://…`` for PostgreSQL."""
    demo_mode: bool = False
    """Enables the demo login source (demo accounts with the demo password)."""
    demo_password: str = "zsjg-demo"
    signing_key_file: Path | None = None
    """PEM file of the Ed25519 key that signs access tokens; default ``{data_dir}/keys/signing.pem``."""
    generate_signing_key: bool = False
    """Create the signing key file when it is missing (demo and development only)."""
    token_issuer: str = "zsjg"
    token_audience: str = "zsjg-api"
    access_token_ttl: timedelta = timedelta(minutes=15)
    refresh_token_ttl: timedelta = timedelta(days=30)
    sso_issuer: str = ""
    """The main platform's OpenID Connect issuer URL; empty turns single sign-on off."""
    sso_client_id: str = "zsjg-backend"
    sso_client_secret: str = ""
    """The backend's secret as a confidential client of the platform."""
    sso_redirect_uri: str = ""
    """The callback registered at the platform; default ``{the request's origin}/api/v1/auth/sso/callback``
    (set it when the backend is behind a proxy)."""
    platform_url: str = ""
    """The main platform's API base (results intake, task feed); default the SSO issuer."""
    platform_token_url: str = ""
    """Its token endpoint for token exchange; default ``{platform_url}/oidc/token``."""
    forwarding_worker: bool = True
    """Run the forwarding worker inside this server (``zsjg worker`` runs it on its own)."""
    forward_max_attempts: int = 12
    """Failed deliveries of one message before it becomes a dead letter (a wait the platform
    asked for with Retry-After does not count)."""
    forward_backoff_cap: timedelta = timedelta(hours=1)
    import_every: timedelta = timedelta(minutes=1)
    """How often the worker reads the platform's task feed; 0 turns the import off."""
    audit_anchor_file: Path | None = None
    """Where the audit chain's head is anchored outside the database; default ``{data_dir}/audit-anchors.jsonl``.
    Keep a copy of this file somewhere the database's administrators cannot write."""
    audit_anchor_interval: timedelta = timedelta(minutes=10)
    """How often the server anchors the head while it moves; 0 turns the periodic anchor off."""
    upload_max_bytes: int = 30 * 1024 * 1024
    """The largest evidence file accepted (a phone's original photo is a few MB)."""
    image_max_pixels: int = 64_000_000
    """The most pixels an image may have; more is refused as a decompression bomb."""
    upload_expiry: timedelta = timedelta(days=3)
    """How long an unfinished upload may be resumed (a phone may be offline for a day or two)."""
    pwa_dir: Path | None = None
    """The built PWA (``pwa/dist``) served at ``/``; default the repository's ``pwa/dist``."""
    database_echo: bool = False
    push_writer: Literal["auto", "inline", "process"] = "auto"
    """Where pushes are written: ``process``, a child process of the server's own (the server
    keeps HTTP on one core, the writing gets the other); ``inline``, the server's own event
    loop; ``auto``, a child process on SQLite and inline on PostgreSQL (where several server
    processes can write side by side) or when the app is given its clock (tests)."""
    sqlite_busy_timeout_ms: int = 10_000

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'zsjg.sqlite3').as_posix()}"

    @property
    def effective_platform_url(self) -> str:
        return (self.platform_url or self.sso_issuer).rstrip("/")

    @property
    def effective_platform_token_url(self) -> str:
        return self.platform_token_url or f"{self.effective_platform_url}/oidc/token"

    @property
    def files_dir(self) -> Path:
        """The content-addressed store of evidence files (and the spool of uploads in progress)."""
        return self.data_dir / "files"

    @property
    def effective_signing_key_file(self) -> Path:
        return self.signing_key_file or self.data_dir / "keys" / "signing.pem"

    @property
    def effective_audit_anchor_file(self) -> Path:
        return self.audit_anchor_file or self.data_dir / "audit-anchors.jsonl"

    @property
    def effective_pwa_dir(self) -> Path:
        return self.pwa_dir or Path(__file__).resolve().parent.parent / "pwa" / "dist"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``ZSJG_*`` variables, then apply explicit overrides."""
        env = os.environ if environ is None else environ
        raw: dict[str, object] = {}
        for name in cls.__struct_fields__:
            value = env.get(ENV_PREFIX + name.upper())
            if value is not None:
                raw[name] = value
        raw.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return msgspec.convert(raw, cls, strict=False, dec_hook=_decode_path)
        except msgspec.ValidationError as exc:
            raise SettingsError(f"invalid setting: {exc}") from exc


def _decode_path(type_: type, obj: object) -> object:
    if type_ is Path and isinstance(obj, str | Path):
        return Path(obj)
    raise NotImplementedError(f"cannot read {type_!r}")


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""
