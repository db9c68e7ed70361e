"""The backend's verification of the platform's ID tokens (PyJWT against the issuer's JWKS): every
forged or foreign token is refused, keys come only from the JWKS, and an unknown kid refreshes
the JWKS at most once per cooldown."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from backend.clock import FixedClock
from backend.domain.auth.oidc_client import OidcClient, RelyingParty, SsoError
from backend.platform.keys import KeyRing

pytestmark = pytest.mark.anyio
ISSUER = "https://sso.example.gov.cn"
CLIENT = "zsjg-backend"
NONCE = "n-0123456789"
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


class FakeIssuer:
    """Discovery and JWKS of an issuer; every request made is recorded."""

    def __init__(self) -> None:
        self.keys = KeyRing()
        self.requests: list[str] = []
        self.extra_keys: list[dict[str, Any]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/jwks",
                },
            )
        if request.url.path == "/jwks":
            jwks = self.keys.jwks()
            return httpx.Response(200, json={"keys": [*jwks["keys"], *self.extra_keys]})
        return httpx.Response(404)

    @property
    def jwks_fetches(self) -> int:
        return sum(url.endswith("/jwks") for url in self.requests)

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(NOW.timestamp())
        claims = {
            "iss": ISSUER,
            "sub": "subject-1",
            "aud": CLIENT,
            "iat": now,
            "exp": now + 600,
            "nonce": NONCE,
            "preferred_username": "insp01",
        }
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, claims: dict[str, Any] | None = None, **headers: Any) -> str:
        key = self.keys.current
        return jwt.encode(
            claims or self.claims(),
            key.private,
            algorithm="RS256",
            headers={"kid": key.kid, **headers},
        )


@pytest.fixture
def issuer() -> FakeIssuer:
    return FakeIssuer()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def oidc(issuer: FakeIssuer, clock: FixedClock) -> OidcClient:
    return OidcClient(
        RelyingParty(issuer=ISSUER, client_id=CLIENT, client_secret="s"),
        clock,
        transport=httpx.MockTransport(issuer.handle),
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}.{signature}"


async def test_a_genuine_id_token_is_accepted(oidc: OidcClient, issuer: FakeIssuer) -> None:
    claims = await oidc.verify_id_token(issuer.token(), nonce=NONCE)
    assert claims.subject == "subject-1" and claims.username == "insp01"


def _forgeries(issuer: FakeIssuer) -> dict[str, str]:
    genuine = issuer.token()
    header = jwt.get_unverified_header(genuine)
    claims = issuer.claims()
    now = int(NOW.timestamp())
    public_pem = issuer.keys.current.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = _unsigned({**header, "alg": "HS256"}, claims)[:-1]
    hs256 = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged: dict[str, str] = {}
    for spelling in ("none", "None", "NONE", "nOnE"):
        forged[f"alg {spelling}"] = _unsigned({**header, "alg": spelling}, claims)
        forged[f"alg {spelling}, real signature"] = _unsigned(
            {**header, "alg": spelling}, claims, genuine.rsplit(".", 1)[1]
        )
    forged["HS256 with the public key"] = f"{signing_input}.{_b64(hs256)}"
    forged["another key under the issuer's kid"] = jwt.encode(
        claims, stranger, algorithm="RS256", headers={"kid": header["kid"]}
    )
    forged["expired"] = issuer.token(issuer.claims(exp=now - 3600, iat=now - 4200))
    forged["nbf in the future"] = issuer.token(issuer.claims(nbf=now + 3600))
    forged["issued in the future"] = issuer.token(issuer.claims(iat=now + 3600, exp=now + 4200))
    forged["exp as a string"] = issuer.token(issuer.claims(exp=str(now + 600)))
    for name in ("iss", "aud", "exp", "iat", "sub"):
        forged[f"no {name}"] = issuer.token(issuer.claims(**{name: None}))
    for aud in ("other", f"{CLIENT} ", CLIENT[:-1], f"{CLIENT}x", CLIENT.upper(), ["other"]):
        forged[f"aud {aud!r}"] = issuer.token(issuer.claims(aud=aud))
    forged["several audiences without azp"] = issuer.token(issuer.claims(aud=[CLIENT, "other"]))
    for iss in (
        "https://evil.example",
        f"{ISSUER}/",
        ISSUER[:-1],
        ISSUER.upper(),
        "http" + ISSUER[5:],
    ):
        forged[f"iss {iss!r}"] = issuer.token(issuer.claims(iss=iss))
    forged["wrong nonce"] = issuer.token(issuer.claims(nonce="other"))
    forged["no nonce"] = issuer.token(issuer.claims(nonce=None))
    forged["an access token (typ at+jwt)"] = issuer.token(typ="at+jwt")
    forged["unknown crit"] = issuer.token(crit=["urn:example:x"], **{"urn:example:x": 1})
    forged["jku"] = jwt.encode(
        claims, stranger, algorithm="RS256", headers={"kid": "x", "jku": "http://127.0.0.1:9/jwks"}
    )
    forged["x5u"] = jwt.encode(
        claims, stranger, algorithm="RS256", headers={"kid": "x", "x5u": "http://127.0.0.1:9/c"}
    )
    forged["ES256 under the RSA key's kid"] = jwt.encode(
        claims,
        ec.generate_private_key(ec.SECP256R1()),
        algorithm="ES256",
        headers={"kid": header["kid"]},
    )
    forged["no kid"] = jwt.encode(claims, issuer.keys.current.private, algorithm="RS256")
    forged["garbage"] = "not.a.token"
    return forged


async def test_every_forged_or_foreign_id_token_is_refused_without_fetching_its_keys(
    oidc: OidcClient, issuer: FakeIssuer
) -> None:
    forged = _forgeries(issuer)
    assert len(forged) >= 40
    accepted = []
    for name, token in forged.items():
        try:
            await oidc.verify_id_token(token, nonce=NONCE)
        except SsoError:
            continue
        accepted.append(name)
    assert accepted == []
    assert all(url.startswith(ISSUER) for url in issuer.requests)  # never a jku/x5u
    assert issuer.jwks_fetches <= 2  # the first fetch, and at most one for unknown kids


async def test_leeway_is_thirty_seconds(
    oidc: OidcClient, issuer: FakeIssuer, clock: FixedClock
) -> None:
    token = issuer.token()
    clock.advance(timedelta(seconds=600 + 25))
    await oidc.verify_id_token(token, nonce=NONCE)
    clock.advance(timedelta(seconds=10))
    with pytest.raises(SsoError, match="expired"):
        await oidc.verify_id_token(token, nonce=NONCE)


async def test_an_unknown_kid_refreshes_the_jwks_at_most_once_per_cooldown(
    oidc: OidcClient, issuer: FakeIssuer, clock: FixedClock
) -> None:
    await oidc.verify_id_token(issuer.token(), nonce=NONCE)
    assert issuer.jwks_fetches == 1
    unknown = jwt.encode(
        issuer.claims(),
        issuer.keys.current.private,
        algorithm="RS256",
        headers={"kid": "not-published"},
    )
    for _ in range(20):
        with pytest.raises(SsoError):
            await oidc.verify_id_token(unknown, nonce=NONCE)
    assert issuer.jwks_fetches == 1  # fetched less than 5 minutes ago: no refresh at all

    # the issuer rotates: a token under the new key is accepted after the cooldown
    issuer.keys.rotate()
    rotated = issuer.token()
    with pytest.raises(SsoError, match="unknown key"):
        await oidc.verify_id_token(rotated, nonce=NONCE)
    clock.advance(timedelta(minutes=5))
    await oidc.verify_id_token(rotated, nonce=NONCE)
    assert issuer.jwks_fetches == 2
    for _ in range(20):
        with pytest.raises(SsoError):
            await oidc.verify_id_token(unknown, nonce=NONCE)
    assert issuer.jwks_fetches == 2


async def test_a_jwks_key_declared_for_another_algorithm_is_not_used(
    oidc: OidcClient, issuer: FakeIssuer
) -> None:
    published = issuer.keys.jwks()["keys"][0]  # the current key, published again as PS256 only
    issuer.extra_keys = [{**published, "kid": "declared", "alg": "PS256"}]
    token = jwt.encode(
        issuer.claims(), issuer.keys.current.private, algorithm="RS256", headers={"kid": "declared"}
    )
    with pytest.raises(SsoError, match="not a key for RS256"):
        await oidc.verify_id_token(token, nonce=NONCE)


async def test_a_discovery_document_of_another_issuer_is_refused(clock: FixedClock) -> None:
    def mixed_up(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"issuer": "https://other.example", "jwks_uri": "x"})

    oidc = OidcClient(
        RelyingParty(issuer=ISSUER, client_id=CLIENT, client_secret="s"),
        clock,
        transport=httpx.MockTransport(mixed_up),
    )
    with pytest.raises(SsoError, match="issuer"):
        await oidc.metadata()
