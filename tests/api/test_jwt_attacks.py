"""The JWT attack matrix on every protected route: each forged, altered or foreign token gets 401,
no row anywhere changes, and no key is ever fetched from where a token points."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import FixedClock
from backend.db.models import Base
from backend.platform.keys import KeyRing
from backend.settings import Settings
from tests.world import build_world, login

pytestmark = pytest.mark.anyio
UNAUTHENTICATED = re.compile(r"^/schema|^/healthz$")
"""What the authentication middleware leaves out (besides handlers marked exclude_from_auth)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}.{signature}"


def _hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """HS256 by hand: PyJWT itself refuses to use a public key as an HMAC secret."""
    signing_input = _unsigned({**header, "alg": "HS256"}, claims)[:-1]
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


class _KeyServer:
    """A server a forged token points at (jku, x5u): it must never be asked for anything."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.hits: list[str] = []
        body = json.dumps(jwks).encode()
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _KeyServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def key_server() -> Iterator[_KeyServer]:
    attacker = Ed25519PrivateKey.generate()
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(attacker.public_key()))
    with _KeyServer({"keys": [{**jwk, "kid": "attacker"}]}) as server:
        server.attacker = attacker  # type: ignore[attr-defined]
        yield server


def _attacks(
    valid: str, settings: Settings, clock: FixedClock, key_server: _KeyServer
) -> dict[str, str]:
    header = jwt.get_unverified_header(valid)
    claims = jwt.decode(valid, options={"verify_signature": False})
    ours = serialization.load_pem_private_key(
        settings.effective_signing_key_file.read_bytes(), password=None
    )
    public = ours.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    now = int(clock.now().timestamp())

    def signed(changes: dict[str, Any], drop: tuple[str, ...] = (), **extra: Any) -> str:
        body = {k: v for k, v in {**claims, **changes}.items() if k not in drop}
        return jwt.encode(body, ours, algorithm="EdDSA", headers={**header, **extra})

    attacks: dict[str, str] = {}
    for spelling in ("none", "None", "NONE", "nOnE"):
        attacks[f"alg {spelling}, no signature"] = _unsigned({**header, "alg": spelling}, claims)
        attacks[f"alg {spelling}, the real signature"] = _unsigned(
            {**header, "alg": spelling}, claims, valid.rsplit(".", 1)[1]
        )
    attacks["HS256 with the public key (PEM)"] = _hs256(header, claims, pem)
    attacks["HS256 with the public key (raw)"] = _hs256(header, claims, raw)
    attacks["HS256 with the public key (JWK x)"] = _hs256(header, claims, _b64(raw).encode())
    attacks["another Ed25519 key under our kid"] = jwt.encode(
        claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers=header
    )
    attacks["the signature of another token"] = (
        valid.rsplit(".", 1)[0][:-2] + "AA." + valid.rsplit(".", 1)[1]
    )
    attacks["expired"] = signed({"exp": now - 3600, "iat": now - 4000})
    attacks["nbf in the future"] = signed({"nbf": now + 3600})
    attacks["iat in the future"] = signed({"iat": now + 3600, "exp": now + 7200})
    attacks["exp as a string"] = signed({"exp": str(now + 600)})
    for name in ("iss", "aud", "sub", "exp", "iat", "jti", "sid", "gen", "role"):
        attacks[f"no {name}"] = signed({}, drop=(name,))
    for aud in ("other", "zsjg-api ", "zsjg-ap", "zsjg-apix", "ZSJG-API", "", ["zsjg-apix"]):
        attacks[f"aud {aud!r}"] = signed({"aud": aud})
    for iss in ("other", "zsjg ", "zsj", "zsjgx", "ZSJG", ""):
        attacks[f"iss {iss!r}"] = signed({"iss": iss})
    attacks["unknown crit"] = signed({}, crit=["urn:zsjg:unknown"], **{"urn:zsjg:unknown": 1})
    attacks["jku to the attacker's keys"] = jwt.encode(
        claims,
        key_server.attacker,  # type: ignore[attr-defined]
        algorithm="EdDSA",
        headers={"kid": "attacker", "jku": f"{key_server.url}/jwks"},
    )
    attacks["x5u to the attacker's keys"] = jwt.encode(
        claims,
        key_server.attacker,  # type: ignore[attr-defined]
        algorithm="EdDSA",
        headers={"kid": "attacker", "x5u": f"{key_server.url}/cert.pem"},
    )
    attacks["jku on our own signature"] = signed({}, jku=f"{key_server.url}/jwks")
    attacks["an embedded jwk"] = jwt.encode(
        claims,
        key_server.attacker,  # type: ignore[attr-defined]
        algorithm="EdDSA",
        headers={
            "kid": header["kid"],
            "jwk": json.loads(
                jwt.algorithms.OKPAlgorithm.to_jwk(key_server.attacker.public_key())  # type: ignore[attr-defined]
            ),
        },
    )
    platform = KeyRing()
    rsa_pem = platform.current.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    attacks["HS256 with the platform's RSA public key (PEM)"] = _hs256(
        {**header, "kid": platform.current.kid}, claims, rsa_pem
    )
    attacks["HS256 with the platform's RSA public key, our kid"] = _hs256(header, claims, rsa_pem)
    id_claims = {
        "iss": "http://127.0.0.1:8100",
        "sub": claims["sub"],
        "aud": "zsjg-backend",
        "iat": now,
        "exp": now + 600,
        "nonce": "n",
    }
    attacks["the platform's ID token"] = platform.sign(id_claims)
    attacks["the platform's access token"] = platform.sign(
        {**id_claims, "aud": "http://127.0.0.1:8100/api"}, typ="at+jwt"
    )
    attacks["our claims, typed at+jwt"] = signed({}, typ="at+jwt")
    attacks["garbage"] = "abc"
    attacks["three empty parts"] = ".."
    return attacks


def _value_of(parameter: re.Match[str]) -> str:
    """A value of the path parameter's type, so the route is reached (and not a 404 before it)."""
    values = {"int": "1", "uuid": str(uuid.uuid4()), "date": "2026-11-30"}
    return values.get(parameter.group(1), "x")


def _protected(app: Litestar) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or UNAUTHENTICATED.match(route.path):
            continue
        for handler in route.route_handlers:
            if handler.opt.get("exclude_from_auth"):
                continue
            path = re.sub(r"\{[^}:]+:([a-z]+)\}", _value_of, route.path)
            # OPTIONS answers which methods exist (CORS and tus discovery), never any data
            methods = sorted(handler.http_methods - {"OPTIONS"})
            found.extend((method, path) for method in methods)
    return found


async def _row_counts(session_maker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with session_maker() as session:
        return {
            table.name: await session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


async def test_every_protected_route_refuses_every_forged_token_and_changes_nothing(
    client: AsyncTestClient[Litestar],
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: FixedClock,
    key_server: _KeyServer,
) -> None:
    await build_world(session_maker, clock)
    valid = (await login(client, "amr_a"))["Authorization"].removeprefix("Bearer ")
    routes = _protected(client.app)
    assert len(routes) >= 40, routes  # the matrix covers the API, not a corner of it
    attacks = _attacks(valid, settings, clock, key_server)
    assert len(attacks) >= 45
    before = await _row_counts(session_maker)
    accepted: list[str] = []
    for method, path in routes:
        for name, token in attacks.items():
            r = await client.request(
                method, path, headers={"Authorization": f"Bearer {token}"}, json={}
            )
            if r.status_code != 401:
                accepted.append(f"{method} {path} [{name}] -> {r.status_code}")
    assert accepted == [], f"{len(accepted)} accepted, e.g. {accepted[:20]}"
    assert await _row_counts(session_maker) == before
    assert key_server.hits == []
    # the real token still works on the same routes: the 401s came from the tokens
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {valid}"})
    assert me.status_code == 200


async def test_a_token_is_refused_after_its_leeway_and_accepted_within_it(
    client: AsyncTestClient[Litestar],
    session_maker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
) -> None:
    await build_world(session_maker, clock)
    headers = await login(client, "amr_a")
    clock.advance(timedelta(minutes=15, seconds=20))  # 20 s past exp, within the 30 s leeway
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    clock.advance(timedelta(seconds=15))
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401
