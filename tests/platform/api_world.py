"""The reference platform under test for its API: an app on a fixed clock, the backend's client
registered with a key for token exchange, and helpers speaking the wire format of
docs/platform-api.md the way the backend's connector does."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm
from litestar import Litestar
from litestar.testing import AsyncTestClient

from backend.clock import FixedClock
from backend.platform import PlatformSettings, create_platform_app
from backend.platform.identities import subject_of

ISSUER = "http://127.0.0.1:8100"
CLIENT_ID = "zsjg-backend"
SECRET = "backend-secret"
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
BACKEND_KEY = Ed25519PrivateKey.generate()
JPEG = b"\xff\xd8\xff\xe0" + b"photo" * 100 + b"\xff\xd9"
Http = AsyncTestClient[Litestar]


def backend_jwks() -> dict[str, Any]:
    jwk = json.loads(OKPAlgorithm.to_jwk(BACKEND_KEY.public_key()))
    return {"keys": [{**jwk, "kid": "backend-1", "alg": "EdDSA", "use": "sig"}]}


def repr_digest(content: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(content).digest()).decode()}:"


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def record_body(
    task_ref: str = "task-1", version: int = 1, photos: tuple[bytes, ...] = (JPEG,), **extra: Any
) -> dict[str, Any]:
    return {
        "task_ref": task_ref,
        "record_key": f"record:{task_ref}:v{version}",
        "version": version,
        "record": {"result": "合格", "findings": [], "signed_by": ["insp01", "insp02"]},
        "photos": [sha256_hex(p) for p in photos],
        **extra,
    }


@dataclass
class World:
    http: Http
    clock: FixedClock
    settings: PlatformSettings
    _tokens: dict[str, str] = field(default_factory=dict)

    def renew_tokens(self) -> None:
        """Forget the tokens got so far (after the clock moved past their expiry)."""
        self._tokens.clear()

    async def client_token(self) -> str:
        """The backend's own token (client credentials), as its feed reader gets it."""
        if "client" not in self._tokens:
            r = await self.http.post(
                "/oidc/token", data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, SECRET)
            )
            assert r.status_code == 200, r.text
            self._tokens["client"] = r.json()["access_token"]
        return self._tokens["client"]

    async def person_token(self, username: str = "insp01") -> str:
        """A token on behalf of ``username`` (token exchange), as the forwarding worker gets it."""
        if username not in self._tokens:
            now = self.clock.now()
            subject_token = jwt.encode(
                {
                    "iss": CLIENT_ID,
                    "sub": subject_of(username),
                    "act": {"sub": CLIENT_ID},
                    "aud": f"{ISSUER}/oidc/token",
                    "iat": int(now.timestamp()),
                    "exp": int((now + timedelta(minutes=5)).timestamp()),
                    "jti": str(uuid.uuid4()),
                },
                BACKEND_KEY,
                algorithm="EdDSA",
                headers={"kid": "backend-1"},
            )
            r = await self.http.post(
                "/oidc/token",
                data={
                    "grant_type": EXCHANGE,
                    "subject_token": subject_token,
                    "subject_token_type": JWT_TYPE,
                    "audience": f"{ISSUER}/api",
                },
                auth=(CLIENT_ID, SECRET),
            )
            assert r.status_code == 200, r.text
            self._tokens[username] = r.json()["access_token"]
        return self._tokens[username]

    async def send_photo(
        self,
        content: bytes = JPEG,
        key: str | None = None,
        *,
        token: str | None = None,
        **headers: str,
    ) -> httpx.Response:
        sent = {
            **bearer(token or await self.person_token()),
            "Content-Type": "image/jpeg",
            "Idempotency-Key": key or f"photo:{sha256_hex(content)}",
            "Repr-Digest": repr_digest(content),
            "X-Task-Ref": "task-1",
        }
        for name, value in headers.items():
            sent[name.replace("_", "-")] = value
        return await self.http.post(
            "/api/results/photos", content=content, headers={k: v for k, v in sent.items() if v}
        )

    async def send_json(
        self, path: str, body: Any, key: str, *, token: str | None = None
    ) -> httpx.Response:
        headers = {**bearer(token or await self.person_token()), "Idempotency-Key": key}
        if isinstance(body, bytes):
            return await self.http.post(path, content=body, headers=headers)
        return await self.http.post(path, json=body, headers=headers)

    async def send_record(
        self, body: dict[str, Any] | None = None, key: str | None = None
    ) -> httpx.Response:
        body = body or record_body()
        return await self.send_json("/api/results/records", body, key or body["record_key"])

    async def received(self) -> dict[str, Any]:
        r = await self.http.get("/control/received", headers=self._control_headers())
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    async def set_faults(self, **faults: Any) -> dict[str, Any]:
        r = await self.http.put("/control/faults", json=faults, headers=self._control_headers())
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    def _control_headers(self) -> dict[str, str]:
        token = self.settings.control_token
        return bearer(token) if token else {}


@asynccontextmanager
async def running(**changes: Any) -> AsyncIterator[World]:
    settings = PlatformSettings(
        issuer=ISSUER, backend_client_secret=SECRET, backend_jwks=backend_jwks(), **changes
    )
    clock = FixedClock(NOW)
    app = create_platform_app(settings, clock=clock)
    async with AsyncTestClient(app=app, base_url=ISSUER) as http:
        yield World(http, clock, settings)
