"""Dependency providers shared by the controllers."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from backend.domain.auth.principal import Principal

from .context import AppContext


def provide_ctx(state: State) -> AppContext:
    ctx: AppContext = state.ctx
    return ctx


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    principal = request.user
    if not isinstance(principal, Principal):
        raise TypeError("the route is not behind the authentication middleware")
    return principal


DEPENDENCIES = {
    "ctx": Provide(provide_ctx, sync_to_thread=False),
    "principal": Provide(provide_principal, sync_to_thread=False),
}


Ctx = NamedDependency[AppContext]
"""The app context, injected by name (``ctx``)."""
Caller = NamedDependency[Principal]
"""The authenticated caller, injected by name (``principal``)."""
DbSession = NamedDependency[AsyncSession]
"""The request's session (commit on 2xx, roll back otherwise), injected by name (``db_session``)."""
