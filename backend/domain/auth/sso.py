"""A sign-in through the platform's single sign-on, from the browser's start to a one-time code.

1. ``start``: a fresh ``state``, ``nonce`` and PKCE verifier are stored (state and the browser's
   binding cookie as hashes) and the browser is sent to the platform.
2. ``callback``: the state must be known, unused, unexpired and come back to the browser that
   started it (its cookie); it is burnt before anything else happens. The code is traded for an
   ID token, which is verified (``oidc_client``); its subject must be a known active user's
   ``platform_subject``. The browser gets a one-time login code of two minutes.
3. ``redeem``: the app trades the login code (with the same cookie) for the backend's own
   device-bound session. No SSO token is kept or handed to the browser.

The calls to the platform happen outside any database transaction: a slow platform never holds
the embedded database's write lock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import Clock
from backend.db.engine import write_intent
from backend.db.models import SsoLogin, User

from .oidc_client import OidcClient, SsoError

STATE_LIFETIME = timedelta(minutes=10)
LOGIN_CODE_LIFETIME = timedelta(minutes=2)
KEPT_AFTER_EXPIRY = timedelta(days=1)
COOKIE = "zsjg_sso"
COOKIE_PATH = "/api/v1/auth/sso"

_PLATFORM_ERRORS = {
    "access_denied": "已取消统一身份认证登录",
    "login_required": "请在统一身份认证平台登录",
    "temporarily_unavailable": "统一身份认证平台暂时不可用，请稍后重试",
}


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _s256(verifier: str) -> str:
    raw = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _same(secret: str | None, digest: str) -> bool:
    return secret is not None and hmac.compare_digest(_digest(secret), digest)


@dataclass(frozen=True, slots=True)
class Started:
    authorization_url: str
    browser_secret: str
    """Set as the ``zsjg_sso`` cookie: the callback and the redemption must come from this browser."""


@dataclass(frozen=True, slots=True)
class CalledBack:
    login_code: str
    user_id: uuid.UUID
    username: str


class SsoService:
    def __init__(
        self, oidc: OidcClient, session_maker: async_sessionmaker[AsyncSession], clock: Clock
    ) -> None:
        self._oidc = oidc
        self._session_maker = session_maker
        self._clock = clock

    async def start(self, redirect_uri: str) -> Started:
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier, browser = secrets.token_urlsafe(64), secrets.token_urlsafe(32)
        url = await self._oidc.authorization_url(
            redirect_uri=redirect_uri, state=state, nonce=nonce, code_challenge=_s256(verifier)
        )
        now = self._clock.now()
        with write_intent():
            async with self._session_maker() as session, session.begin():
                await session.execute(
                    delete(SsoLogin).where(SsoLogin.expires_at < now - KEPT_AFTER_EXPIRY)
                )
                session.add(
                    SsoLogin(
                        state_hash=_digest(state),
                        browser_hash=_digest(browser),
                        nonce=nonce,
                        code_verifier=verifier,
                        expires_at=now + STATE_LIFETIME,
                        created_at=now,
                    )
                )
        return Started(authorization_url=url, browser_secret=browser)

    async def callback(
        self,
        *,
        state: str,
        code: str,
        error: str,
        browser_secret: str | None,
        redirect_uri: str,
        issuer: str | None = None,
    ) -> CalledBack:
        login_id, nonce, verifier = await self._burn_state(state, browser_secret)
        if issuer is not None and issuer != self._oidc.party.issuer:
            # RFC 9207: a response from another issuer (a mix-up attack) is never used
            raise SsoError(f"the callback names issuer {issuer[:200]!r}")
        if error:
            raise SsoError(
                f"the platform answered {error[:60]}",
                _PLATFORM_ERRORS.get(error, "统一身份认证平台拒绝了登录请求"),
            )
        if not code:
            raise SsoError("the callback carries no code")
        id_token = await self._oidc.redeem_code(
            code=code, redirect_uri=redirect_uri, code_verifier=verifier
        )
        claims = await self._oidc.verify_id_token(id_token, nonce=nonce)
        login_code = secrets.token_urlsafe(32)
        now = self._clock.now()
        with write_intent():
            async with self._session_maker() as session, session.begin():
                user = await session.scalar(
                    select(User).where(User.platform_subject == claims.subject)
                )
                if user is None or not user.active:
                    raise SsoError(
                        f"no active user has the platform subject {claims.subject}",
                        "该统一身份账号尚未关联本系统的用户，请联系运维人员",
                    )
                login = await session.get(SsoLogin, login_id, with_for_update=True)
                if login is None:
                    raise SsoError("the sign-in's row is gone")
                login.user_id = user.id
                login.login_code_hash = _digest(login_code)
                login.login_code_expires_at = now + LOGIN_CODE_LIFETIME
                return CalledBack(login_code=login_code, user_id=user.id, username=user.username)

    async def _burn_state(
        self, state: str, browser_secret: str | None
    ) -> tuple[uuid.UUID, str, str]:
        """The sign-in the state belongs to; the state cannot be used a second time."""
        if not state:
            raise SsoError("the callback carries no state", "登录请求无效，请重新登录")
        now = self._clock.now()
        with write_intent():
            async with self._session_maker() as session, session.begin():
                login = await session.scalar(
                    select(SsoLogin).where(SsoLogin.state_hash == _digest(state)).with_for_update()
                )
                if login is None:
                    raise SsoError("unknown state", "登录请求无效，请重新登录")
                if login.called_back_at is not None:
                    raise SsoError("the state was used already", "登录请求已使用过，请重新登录")
                login.called_back_at = now
                nonce, verifier = login.nonce, login.code_verifier
                login.nonce = login.code_verifier = None
                if not _same(browser_secret, login.browser_hash):
                    # committed: a state that came back to another browser is burnt all the same
                    return_error = SsoError(
                        "the state came back to another browser (login CSRF?)",
                        "登录请求不是从这台设备发起的，请重新登录",
                    )
                elif login.expires_at < now or nonce is None or verifier is None:
                    return_error = SsoError("the sign-in took too long", "登录已超时，请重新登录")
                else:
                    return login.id, nonce, verifier
        raise return_error

    async def redeem(
        self, session: AsyncSession, login_code: str, browser_secret: str | None
    ) -> User:
        """The user of a one-time login code, which cannot be used again (in the caller's
        transaction, which also opens the device session)."""
        now = self._clock.now()
        login = await session.scalar(
            select(SsoLogin)
            .where(SsoLogin.login_code_hash == _digest(login_code))
            .with_for_update()
        )
        if login is None or login.user_id is None or login.login_code_expires_at is None:
            raise SsoError("unknown login code", "登录码无效，请重新登录")
        if login.redeemed_at is not None:
            raise SsoError("the login code was used already", "登录码已使用过，请重新登录")
        if not _same(browser_secret, login.browser_hash):
            raise SsoError("the login code came from another browser", "登录码无效，请重新登录")
        if login.login_code_expires_at < now:
            raise SsoError("the login code has expired", "登录已超时，请重新登录")
        login.redeemed_at = now
        user = await session.get(User, login.user_id)
        if user is None or not user.active:
            raise SsoError("the user is no longer active", "该账号已停用，请联系运维人员")
        return user
