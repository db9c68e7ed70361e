"""Adversarial review of single sign-on: ID-token edge cases, the JWKS cooldown after a failed
fetch, and the state and the login code under concurrent use. Each test bounded in wall time."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import anyio
import httpx
import pytest
from sqlalchemy import func, select

from backend.clock import FixedClock
from backend.db.models import RefreshToken
from backend.domain.auth.oidc_client import OidcClient, RelyingParty, SsoError
from tests.api.test_id_token_verification import (  # noqa: F401 - fixtures
    CLIENT,
    ISSUER,
    NONCE,
    FakeIssuer,
    clock,
    issuer,
    oidc,
)
from tests.api.test_sso import Sso, sso  # noqa: F401 - the fixture

pytestmark = pytest.mark.anyio
LIMIT = 60


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": float("nan")},  # NaN + leeway < now is False: never expires
        {"iat": float("nan"), "exp": float("nan")},
        {"iat": -1e18},  # accepted, then datetime.fromtimestamp raises (a 500, not an SsoError)
    ],
    ids=["exp-nan", "iat-and-exp-nan", "iat-far-past"],
)
async def test_an_id_token_with_non_finite_or_absurd_times_is_refused(
    oidc: OidcClient,  # noqa: F811
    issuer: FakeIssuer,  # noqa: F811
    claims: dict[str, float],
) -> None:
    """Python's json (used by PyJWT) reads NaN and Infinity; such times are not numbers a
    verifier can compare, and must be refused like any other malformed claim."""
    token = issuer.token(issuer.claims(**claims))
    with anyio.fail_after(LIMIT), pytest.raises(SsoError):
        await oidc.verify_id_token(token, nonce=NONCE)


async def test_one_failed_jwks_fetch_does_not_lock_every_sign_in_out_for_five_minutes(
    issuer: FakeIssuer,  # noqa: F811
    clock: FixedClock,  # noqa: F811
) -> None:
    """The issuer's JWKS answers 503 once (a restart, a proxy hiccup) on the backend's first
    sign-in. The issuer is back a few seconds later, but every sign-in in the next five minutes
    fails: the failed fetch counts for the cooldown and no key is known at all."""
    failures = iter([True])

    def flaky(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/jwks" and next(failures, False):
            return httpx.Response(503)
        return issuer.handle(request)

    oidc = OidcClient(  # noqa: F811
        RelyingParty(issuer=ISSUER, client_id=CLIENT, client_secret="s"),
        clock,
        transport=httpx.MockTransport(flaky),
    )
    with anyio.fail_after(LIMIT):
        with pytest.raises(SsoError):
            await oidc.verify_id_token(issuer.token(), nonce=NONCE)
        clock.advance(timedelta(seconds=10))
        # the issuer is fine again; a genuine token should verify
        await oidc.verify_id_token(issuer.token(), nonce=NONCE)


async def test_the_same_state_called_back_twice_at_once_signs_in_once(sso: Sso) -> None:  # noqa: F811
    """Two callbacks with the same state and code, concurrently (a double-tap, a replaying
    proxy): exactly one gets a login code."""
    with anyio.fail_after(LIMIT):
        callback = await sso.sign_in_at_platform(await sso.start())
        answers = await asyncio.gather(sso.call_back(callback), sso.call_back(callback))
    codes = [a for a in answers if "code" in a]
    assert len(codes) == 1, answers


async def test_the_login_code_redeemed_twice_at_once_opens_one_session(sso: Sso) -> None:  # noqa: F811
    with anyio.fail_after(LIMIT):
        back = await sso.full()
        answers = await asyncio.gather(
            sso.redeem(back["code"], uuid.uuid4()), sso.redeem(back["code"], uuid.uuid4())
        )
    assert sorted(r.status_code for r in answers) == [200, 401], [r.text for r in answers]
    async with sso.session_maker() as session:
        assert await session.scalar(select(func.count()).select_from(RefreshToken)) == 1


async def test_the_sso_cookie_is_scoped(sso: Sso) -> None:  # noqa: F811
    r = await sso.backend.get("/api/v1/auth/sso/start", follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert "path=/api/v1/auth/sso" in cookie and "httponly" in cookie
    assert "samesite=lax" in cookie and "secure" not in cookie  # http in the tests
    state = parse_qs(urlparse(r.headers["location"]).query)["state"][0]
    assert len(state) >= 43
