"""Dependency providers shared by the controllers."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession

from backend.domain.audit.service import Actor, Audit
from backend.domain.auth.principal import Principal

from .context import AppContext
from .security import request_id_of


def provide_ctx(state: State) -> AppContext:
    ctx: AppContext = state.ctx
    return ctx


async def provide_db_session(
    raw_db_session: NamedDependency[AsyncSession],
) -> AsyncGenerator[AsyncSession, None]:
    """The request's transaction: committed when the handler succeeds, before the response is sent.

    advanced-alchemy's autocommit handler commits only while the response is being sent and,
    if that commit fails, logs it and lets the 2xx go out for a change that was never stored.
    Committing here, in the dependency's cleanup, turns a failed commit into a 500 problem
    instead; the plugin's handler then only closes the session (or rolls back on errors).
    """
    try:
        yield raw_db_session
    except BaseException:
        await raw_db_session.rollback()
        raise
    else:
        if raw_db_session.in_transaction():
            await raw_db_session.commit()


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    principal = request.user
    if not isinstance(principal, Principal):
        raise TypeError("the route is not behind the authentication middleware")
    return principal


AUDIT_STATE_KEY = "zsjg.audit"


def provide_audit(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[AppContext],
) -> Audit:
    """The request's audit unit: the caller (if signed in), the request id, the request's session."""
    principal = request.scope.get("user")
    actor = (
        Actor(role=principal.role.value, user_id=principal.user_id, device_id=principal.device_id)
        if isinstance(principal, Principal)
        else Actor(role="anonymous")
    )
    audit = Audit(
        session=db_session,
        clock=ctx.clock,
        actor=actor,
        request_id=request_id_of(request),
        session_maker=ctx.session_maker,
    )
    request.scope.setdefault("state", {})[AUDIT_STATE_KEY] = audit
    return audit


def audit_after_response_middleware(app: ASGIApp) -> ASGIApp:
    """Once the response is sent, write the events of refusals (their request was rolled back)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)
        audit = scope.get("state", {}).get(AUDIT_STATE_KEY)
        if isinstance(audit, Audit):
            await audit.write_after_response()

    return middleware


DEPENDENCIES = {
    "db_session": Provide(provide_db_session),
    "ctx": Provide(provide_ctx, sync_to_thread=False),
    "principal": Provide(provide_principal, sync_to_thread=False),
    "audit": Provide(provide_audit, sync_to_thread=False),
}


Ctx = NamedDependency[AppContext]
"""The app context, injected by name (``ctx``)."""
Caller = NamedDependency[Principal]
"""The authenticated caller, injected by name (``principal``)."""
DbSession = NamedDependency[AsyncSession]
"""The request's session (commit on 2xx, roll back otherwise), injected by name (``db_session``)."""
AuditUnit = NamedDependency[Audit]
"""The request's audit unit, injected by name (``audit``)."""
