"""The reference platform's OpenID Connect issuer: discovery, JWKS with rotation, the login page,
and the authorization code flow with PKCE (S256) — every refusal without a code or a token."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from backend.clock import FixedClock
from backend.platform import PlatformSettings, create_platform_app
from backend.platform.identities import subject_of

pytestmark = pytest.mark.anyio
ISSUER = "http://127.0.0.1:8100"
CALLBACK = "http://127.0.0.1:8000/api/v1/auth/sso/callback"
SECRET = "backend-secret"
PASSWORD = "zsjg-demo"
Client = AsyncTestClient[Litestar]


@pytest.fixture
def platform_clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 30, 2, 0, tzinfo=UTC))


@pytest.fixture
async def platform(platform_clock: FixedClock) -> AsyncIterator[Client]:
    settings = PlatformSettings(
        issuer=ISSUER, backend_client_secret=SECRET, backend_redirect_uris=(CALLBACK,)
    )
    app = create_platform_app(settings, clock=platform_clock)
    async with AsyncTestClient(app=app, base_url=ISSUER) as client:
        yield client


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


def authorization(challenge: str, **overrides: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": "zsjg-backend",
        "redirect_uri": CALLBACK,
        "scope": "openid profile",
        "state": "state-123",
        "nonce": "nonce-456",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }


async def sign_in(platform: Client, params: dict[str, str]) -> str:
    """Posts the login form; answers the code the platform redirected back with."""
    r = await platform.post(
        "/oidc/authorize",
        data={**params, "username": "insp01", "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    target = urlparse(r.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == CALLBACK
    query = parse_qs(target.query)
    assert query["state"] == [params["state"]]
    return query["code"][0]


async def exchange(
    platform: Client, code: str, verifier: str, **form: str
) -> tuple[int, dict[str, str]]:
    r = await platform.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
            **form,
        },
        auth=("zsjg-backend", SECRET),
    )
    assert r.headers["cache-control"] == "no-store"
    return r.status_code, r.json()


async def test_discovery_names_the_endpoints_and_what_is_supported(platform: Client) -> None:
    doc = (await platform.get("/.well-known/openid-configuration")).json()
    assert doc["issuer"] == ISSUER
    assert doc["token_endpoint"] == f"{ISSUER}/oidc/token"
    assert doc["jwks_uri"] == f"{ISSUER}/oidc/jwks"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]


async def test_the_code_flow_with_pkce_gives_an_id_token_that_verifies_against_the_jwks(
    platform: Client,
) -> None:
    verifier, challenge = pkce()
    page = await platform.get("/oidc/authorize", params=authorization(challenge))
    assert page.status_code == 200
    assert "统一身份认证" in page.text and 'name="password"' in page.text
    code = await sign_in(platform, authorization(challenge))
    status, tokens = await exchange(platform, code, verifier)
    assert status == 200, tokens
    assert tokens["token_type"] == "Bearer"
    jwks = jwt.PyJWKSet.from_dict((await platform.get("/oidc/jwks")).json())
    kid = jwt.get_unverified_header(tokens["id_token"])["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    claims = jwt.decode(
        tokens["id_token"],
        key.key,
        algorithms=["RS256"],
        audience="zsjg-backend",
        issuer=ISSUER,
        options={"require": ["iss", "aud", "exp", "iat", "sub"], "verify_exp": False},
    )
    assert claims["sub"] == subject_of("insp01")
    assert claims["nonce"] == "nonce-456"
    assert claims["preferred_username"] == "insp01"


async def test_a_code_works_once_only_with_its_verifier_and_only_for_a_minute(
    platform: Client, platform_clock: FixedClock
) -> None:
    verifier, challenge = pkce()
    code = await sign_in(platform, authorization(challenge))
    assert (await exchange(platform, code, "a-wrong-verifier-" + "x" * 40))[1][
        "error"
    ] == "invalid_grant"
    assert (await exchange(platform, code, verifier))[1]["error"] == "invalid_grant"  # spent
    code = await sign_in(platform, authorization(challenge))
    assert (await exchange(platform, code, verifier))[0] == 200
    assert (await exchange(platform, code, verifier))[1]["error"] == "invalid_grant"  # reused
    code = await sign_in(platform, authorization(challenge))
    platform_clock.advance(timedelta(minutes=2))
    assert (await exchange(platform, code, verifier))[1]["error"] == "invalid_grant"  # expired


async def test_a_code_is_bound_to_its_redirect_uri_and_client(platform: Client) -> None:
    verifier, challenge = pkce()
    code = await sign_in(platform, authorization(challenge))
    status, body = await exchange(platform, code, verifier, redirect_uri=CALLBACK + "/other")
    assert (status, body["error"]) == (400, "invalid_grant")
    r = await platform.post(
        "/oidc/token",
        data={"grant_type": "authorization_code", "code": "x", "code_verifier": verifier},
        auth=("zsjg-backend", "a wrong secret"),
    )
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert "basic" in r.headers["www-authenticate"].lower()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": ""}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
    ],
)
async def test_a_bad_request_goes_back_to_the_client_with_an_error_and_no_code(
    platform: Client, change: dict[str, str], error: str
) -> None:
    _, challenge = pkce()
    r = await platform.get(
        "/oidc/authorize", params=authorization(challenge, **change), follow_redirects=False
    )
    assert r.status_code == 303
    query = parse_qs(urlparse(r.headers["location"]).query)
    assert query["error"] == [error] and query["state"] == ["state-123"]
    assert "code" not in query


@pytest.mark.parametrize(
    "change", [{"client_id": "someone-else"}, {"redirect_uri": "https://evil.example/cb"}]
)
async def test_an_unknown_client_or_redirect_is_never_redirected_to(
    platform: Client, change: dict[str, str]
) -> None:
    _, challenge = pkce()
    r = await platform.get(
        "/oidc/authorize", params=authorization(challenge, **change), follow_redirects=False
    )
    assert r.status_code == 400
    assert "location" not in r.headers
    posted = await platform.post(
        "/oidc/authorize",
        data={**authorization(challenge, **change), "username": "insp01", "password": "zsjg-demo"},
        follow_redirects=False,
    )
    assert posted.status_code == 400 and "location" not in posted.headers


async def test_a_wrong_password_shows_the_page_again_and_issues_no_code(platform: Client) -> None:
    _, challenge = pkce()
    r = await platform.post(
        "/oidc/authorize",
        data={**authorization(challenge), "username": "insp01", "password": "wrong"},
    )
    assert r.status_code == 401
    assert "账号或密码错误" in r.text
    assert "location" not in r.headers
    assert 'value="insp01"' in r.text  # the name stays typed; the password does not


async def test_after_a_key_rotation_old_tokens_still_verify_and_new_ones_use_the_new_key(
    platform: Client,
) -> None:
    verifier, challenge = pkce()
    _, before = await exchange(
        platform, await sign_in(platform, authorization(challenge)), verifier
    )
    new_kid = (await platform.post("/control/keys/rotate")).json()["kid"]
    _, after = await exchange(platform, await sign_in(platform, authorization(challenge)), verifier)
    keys = {k["kid"] for k in (await platform.get("/oidc/jwks")).json()["keys"]}
    old_kid = jwt.get_unverified_header(before["id_token"])["kid"]
    assert jwt.get_unverified_header(after["id_token"])["kid"] == new_kid
    assert {old_kid, new_kid} <= keys and old_kid != new_kid
