"""Where a sign-in is checked. Single sign-on with the main platform will be a second source."""

from __future__ import annotations

import hmac
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import User
from backend.errors import InvalidCredentials


class LoginSource(Protocol):
    """Turns presented credentials into an active user, or raises ``InvalidCredentials``."""

    name: str

    async def authenticate(self, session: AsyncSession, username: str, password: str) -> User: ...


class DemoLoginSource:
    """The demo accounts: any active user, with the one demo password. Only in demo mode."""

    name = "demo"

    def __init__(self, password: str) -> None:
        self._password = password

    async def authenticate(self, session: AsyncSession, username: str, password: str) -> User:
        user = await session.scalar(select(User).where(User.username == username))
        password_ok = hmac.compare_digest(password.encode(), self._password.encode())
        if user is None or not user.active or not password_ok:
            raise InvalidCredentials("用户名或密码错误")
        return user
