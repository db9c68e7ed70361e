"""Sign-in, device-bound rotating refresh tokens with reuse detection, sign-out."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import Clock
from backend.db.models import Device, RefreshToken, User
from backend.domain.audit.actions import AuditAction
from backend.domain.audit.service import Actor, Audit
from backend.errors import (
    DeviceOwnedByAnotherUser,
    DeviceRevoked,
    InvalidCredentials,
    InvalidToken,
    RefreshTokenReused,
)

from .login_sources import LoginSource
from .tokens import TokenSigner, hash_refresh_token, new_refresh_token


class TokenPair(msgspec.Struct, kw_only=True):
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    user_id: uuid.UUID
    username: str
    device_id: uuid.UUID
    role: str


class AuthService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        signer: TokenSigner,
        clock: Clock,
        access_ttl: timedelta,
        refresh_ttl: timedelta,
        session_maker: async_sessionmaker[AsyncSession],
        audit: Audit,
    ) -> None:
        self._session = session
        self._audit = audit
        self._signer = signer
        self._clock = clock
        self._access_ttl = access_ttl
        self._refresh_ttl = refresh_ttl
        self._session_maker = session_maker

    async def login(
        self,
        source: LoginSource,
        *,
        username: str,
        password: str,
        device_id: uuid.UUID,
        device_name: str,
    ) -> TokenPair:
        try:
            user = await source.authenticate(self._session, username, password)
        except InvalidCredentials:
            self._audit.record_after_response(
                AuditAction.LOGIN_FAILED,
                subject_kind="user",
                subject_id=username[:64],
                details={"username": username, "device_id": str(device_id), "source": source.name},
            )
            raise
        return await self.sign_in(
            user, source=source.name, device_id=device_id, device_name=device_name
        )

    async def sign_in(
        self, user: User, *, source: str, device_id: uuid.UUID, device_name: str
    ) -> TokenPair:
        """Open a session for an authenticated user on this device (registering the device)."""
        device = await self._session.get(Device, device_id, with_for_update=True)
        now = self._clock.now()
        audit = self._audit.as_actor(
            Actor(role=user.role.value, user_id=user.id, device_id=device_id)
        )
        if device is None:
            device = Device(id=device_id, user_id=user.id, name=device_name, last_seen_at=now)
            try:
                async with (
                    self._session.begin_nested()
                ):  # two first sign-ins of one install race here
                    self._session.add(device)
                    await self._session.flush()
            except IntegrityError:
                device = await self._session.get(
                    Device, device_id, with_for_update=True, populate_existing=True
                )
                if device is None or device.user_id != user.id:
                    raise DeviceOwnedByAnotherUser(
                        "这台设备已登记在另一名用户名下；每个用户在手机上使用自己的设备标识",
                        device_id=str(device_id),
                    ) from None
                return await self._sign_in_again(user, device, source, audit)
            audit.record(
                AuditAction.DEVICE_REGISTERED,
                subject_kind="device",
                subject_id=device_id,
                after={"device_id": str(device_id), "user_id": str(user.id), "name": device_name},
            )
        elif device.user_id != user.id:
            raise DeviceOwnedByAnotherUser(
                "这台设备已登记在另一名用户名下；每个用户在手机上使用自己的设备标识",
                device_id=str(device_id),
            )
        elif device.revoked_at is not None:
            raise DeviceRevoked("该设备已被运维人员吊销，请联系运维人员", device_id=str(device_id))
        else:
            device.name = device_name
            device.last_seen_at = now
            return await self._sign_in_again(user, device, source, audit)
        audit.record(
            AuditAction.LOGIN,
            subject_kind="user",
            subject_id=user.id,
            details={"source": source, "device_id": str(device_id)},
        )
        return await self._issue(user, device)

    async def _sign_in_again(
        self, user: User, device: Device, source: str, audit: Audit
    ) -> TokenPair:
        """A new sign-in on a known device starts a new session: the earlier tokens stop working."""
        if device.revoked_at is not None:
            raise DeviceRevoked("该设备已被运维人员吊销，请联系运维人员", device_id=str(device.id))
        await self._end_session(self._session, device.id)
        await self._session.refresh(device)
        audit.record(
            AuditAction.LOGIN,
            subject_kind="user",
            subject_id=user.id,
            details={"source": source, "device_id": str(device.id)},
        )
        return await self._issue(user, device)

    async def refresh(self, refresh_token: str) -> TokenPair:
        now = self._clock.now()
        row = await self._session.scalar(
            select(RefreshToken)
            .where(RefreshToken.token_hash == hash_refresh_token(refresh_token))
            .with_for_update()
        )
        if row is None:
            raise InvalidToken("未知的刷新令牌")
        if row.rotated_at is not None:
            device_id, user_id = row.device_id, row.user_id
            await self._session.rollback()  # release the row lock before the session is ended
            await self._end_session_out_of_band(device_id, user_id)
            raise RefreshTokenReused(
                "刷新令牌被重复使用，该设备的会话已终止，请重新登录", device_id=str(device_id)
            )
        if row.revoked_at is not None or row.expires_at <= now:
            raise InvalidToken("刷新令牌已失效，请重新登录")
        device = await self._session.get(Device, row.device_id)
        user = await self._session.get(User, row.user_id)
        if device is None or user is None or not user.active:
            raise InvalidToken("刷新令牌已失效，请重新登录")
        if device.revoked_at is not None:
            raise DeviceRevoked("该设备已被吊销", device_id=str(device.id))
        if row.session_generation != device.session_generation:
            raise InvalidToken("会话已结束，请重新登录")
        row.rotated_at = now
        device.last_seen_at = now
        return await self._issue(user, device)

    async def logout(self, device_id: uuid.UUID) -> None:
        device = await self._session.get(Device, device_id, with_for_update=True)
        if device is None:
            return
        await self._end_session(self._session, device.id)
        self._audit.record(AuditAction.LOGOUT, subject_kind="device", subject_id=device.id)

    async def _issue(self, user: User, device: Device) -> TokenPair:
        now = self._clock.now()
        access, access_exp = self._signer.issue(
            user_id=user.id,
            device_id=device.id,
            generation=device.session_generation,
            role=user.role.value,
            now=now,
            ttl=self._access_ttl,
        )
        refresh, refresh_hash = new_refresh_token()
        refresh_exp = now + self._refresh_ttl
        self._session.add(
            RefreshToken(
                token_hash=refresh_hash,
                device_id=device.id,
                user_id=user.id,
                session_generation=device.session_generation,
                expires_at=refresh_exp,
            )
        )
        await self._session.flush()
        return TokenPair(
            access_token=access,
            access_expires_at=access_exp,
            refresh_token=refresh,
            refresh_expires_at=refresh_exp,
            user_id=user.id,
            username=user.username,
            device_id=device.id,
            role=user.role.value,
        )

    async def _end_session(self, session: AsyncSession, device_id: uuid.UUID) -> None:
        now = self._clock.now()
        await session.execute(
            update(Device)
            .where(Device.id == device_id)
            .values(session_generation=Device.session_generation + 1)
        )
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.device_id == device_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def _end_session_out_of_band(self, device_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """End the session in a transaction of its own: it must hold although the request fails."""
        async with self._session_maker() as session, session.begin():
            user = await session.get(User, user_id)
            await self._end_session(session, device_id)
            actor = Actor(
                role=user.role.value if user else "unknown", user_id=user_id, device_id=device_id
            )
            Audit(session, self._clock, actor, self._audit.request_id).record(
                AuditAction.REFRESH_TOKEN_REUSE_DETECTED,
                subject_kind="device",
                subject_id=device_id,
                reason="an already rotated refresh token was presented; the device's session was ended",
            )
