"""OAuth 2.0 token exchange (RFC 8693) at the reference platform: the backend's own short-lived
JWT naming the primary inspector, for an access token to the platform's API on their behalf."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm
from litestar import Litestar
from litestar.testing import AsyncTestClient

from backend.clock import FixedClock
from backend.platform import PlatformSettings, create_platform_app
from backend.platform.identities import subject_of

pytestmark = pytest.mark.anyio
ISSUER = "http://127.0.0.1:8100"
SECRET = "backend-secret"
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
Client = AsyncTestClient[Litestar]
BACKEND_KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()


def jwks_of(key: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    jwk = json.loads(OKPAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**jwk, "kid": kid, "alg": "EdDSA", "use": "sig"}]}


@pytest.fixture
async def platform() -> AsyncIterator[Client]:
    settings = PlatformSettings(
        issuer=ISSUER, backend_client_secret=SECRET, backend_jwks=jwks_of(BACKEND_KEY, "backend-1")
    )
    app = create_platform_app(settings, clock=FixedClock(NOW))
    async with AsyncTestClient(app=app, base_url=ISSUER) as client:
        yield client


def subject_token(
    key: Ed25519PrivateKey = BACKEND_KEY, kid: str = "backend-1", **changes: Any
) -> str:
    claims: dict[str, Any] = {
        "iss": "zsjg-backend",
        "sub": subject_of("insp01"),
        "act": {"sub": "zsjg-backend"},
        "aud": f"{ISSUER}/oidc/token",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(minutes=5)).timestamp()),
        "jti": str(uuid.uuid4()),
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


async def exchange(platform: Client, token: str, **form: str) -> tuple[int, dict[str, Any]]:
    r = await platform.post(
        "/oidc/token",
        data={
            "grant_type": EXCHANGE,
            "subject_token": token,
            "subject_token_type": JWT_TYPE,
            "audience": f"{ISSUER}/api",
            **form,
        },
        auth=("zsjg-backend", SECRET),
    )
    return r.status_code, r.json()


async def test_a_subject_token_becomes_an_access_token_for_the_platform_api(
    platform: Client,
) -> None:
    status, body = await exchange(platform, subject_token())
    assert status == 200, body
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    jwks = jwt.PyJWKSet.from_dict((await platform.get("/oidc/jwks")).json())
    key = jwks[jwt.get_unverified_header(body["access_token"])["kid"]]
    claims = jwt.decode(
        body["access_token"],
        key.key,
        algorithms=["RS256"],
        audience=f"{ISSUER}/api",
        issuer=ISSUER,
        options={"verify_exp": False},
    )
    assert claims["sub"] == subject_of("insp01")
    assert claims["act"] == {"sub": "zsjg-backend"}


Change = Callable[[], str]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: subject_token(key=OTHER_KEY), id="signed-by-another-key"),
        pytest.param(lambda: subject_token(kid="unknown"), id="unknown-kid"),
        pytest.param(lambda: subject_token(iss="someone-else"), id="wrong-issuer"),
        pytest.param(lambda: subject_token(aud=f"{ISSUER}/api"), id="wrong-audience"),
        pytest.param(lambda: subject_token(sub=subject_of("nobody")), id="unknown-subject"),
        pytest.param(lambda: subject_token(act={"sub": "someone-else"}), id="wrong-actor"),
        pytest.param(lambda: subject_token(act=None), id="no-actor"),
        pytest.param(lambda: subject_token(jti=None), id="no-jti"),
        pytest.param(
            lambda: subject_token(exp=int((NOW + timedelta(hours=1)).timestamp())),
            id="lives-too-long",
        ),
        pytest.param(
            lambda: subject_token(exp=int((NOW - timedelta(minutes=2)).timestamp())),
            id="expired",
        ),
        pytest.param(lambda: subject_token(exp="tomorrow"), id="exp-not-a-number"),
        pytest.param(
            lambda: jwt.encode(
                {"iss": "zsjg-backend", "sub": subject_of("insp01")}, "", algorithm="none"
            ),
            id="alg-none",
        ),
    ],
)
async def test_a_subject_token_that_is_not_right_gets_no_access_token(
    platform: Client, make: Change
) -> None:
    status, body = await exchange(platform, make())
    assert status == 400
    assert body["error"] == "invalid_grant"
    assert "access_token" not in body


async def test_a_subject_token_is_used_once(platform: Client) -> None:
    token = subject_token()
    assert (await exchange(platform, token))[0] == 200
    status, body = await exchange(platform, token)
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_only_the_platform_api_is_a_target_and_the_client_must_authenticate(
    platform: Client,
) -> None:
    status, body = await exchange(platform, subject_token(), audience="https://elsewhere/api")
    assert (status, body["error"]) == (400, "invalid_target")
    r = await platform.post(
        "/oidc/token",
        data={
            "grant_type": EXCHANGE,
            "subject_token": subject_token(),
            "subject_token_type": JWT_TYPE,
        },
        auth=("zsjg-backend", "not the secret"),
    )
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
