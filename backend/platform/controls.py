"""``/control``: what the demo and the tests tell the stand-in platform — rotate its signing key,
inject faults into its API, read what its intake received, and create, change or withdraw the
tasks of its feed. Not part of a real platform's contract; mounted only when
``PlatformSettings.controls`` is on, and behind ``control_token`` when one is set."""

from __future__ import annotations

import hmac
from typing import Any, TypeVar

import msgspec
from litestar import Request, Router, delete, get, post, put
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath

from .errors import InvalidRequest, InvalidToken, exception_handlers
from .faults import Faults, FaultSwitch
from .feed import FeedItem, Task, TaskFeed, TaskRef
from .intake import Intake, Received
from .keys import KeyRing

AnyRequest = Request[Any, Any, Any]
S = TypeVar("S", Faults, Task)


def _decode(body: bytes, kind: type[S]) -> S:
    try:
        return msgspec.json.decode(body, type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidRequest(f"the body does not fit: {exc}") from exc


def _task_ref(task_ref: str) -> str:
    try:
        return msgspec.convert(task_ref, TaskRef)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"task_ref: {exc}") from exc


def control_router(
    *,
    control_token: str | None,
    keys: KeyRing,
    faults: FaultSwitch,
    intake: Intake,
    feed: TaskFeed,
) -> Router:
    """The ``/control`` routes, each behind the control token when one is set."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        # a coroutine: Litestar would run a plain function on a worker thread
        if control_token is None:
            return
        scheme, _sep, token = connection.headers.get("authorization", "").partition(" ")
        expected = control_token.encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
            raise InvalidToken("the controls need Authorization: Bearer <control token>")

    @post("/keys/rotate", status_code=200, sync_to_thread=False)
    def rotate() -> dict[str, str]:
        """Rotate the signing key (the previous one stays published)."""
        return {"kid": keys.rotate().kid}

    @get("/faults", sync_to_thread=False)
    def show_faults() -> Faults:
        """The faults in force (counts left)."""
        return faults.faults

    @put("/faults")
    async def set_faults(request: AnyRequest) -> Faults:
        """Replace the whole fault set (a field left out is off)."""
        return faults.set(_decode(await request.body(), Faults))

    @delete("/faults", status_code=200, sync_to_thread=False)
    def clear_faults() -> Faults:
        """Clear every fault."""
        return faults.clear()

    @get("/received", sync_to_thread=False)
    def received() -> Received:
        """Everything the intake accepted, and how many requests each idempotency key made."""
        return intake.received()

    @put("/tasks/{task_ref:str}")
    async def put_task(request: AnyRequest, task_ref: FromPath[str]) -> FeedItem:
        """Create or change a task of the feed (a new version)."""
        return feed.put(_task_ref(task_ref), _decode(await request.body(), Task))

    @delete("/tasks/{task_ref:str}", status_code=200, sync_to_thread=False)
    def withdraw_task(task_ref: FromPath[str]) -> FeedItem:
        """Withdraw a task (a new version without a body)."""
        return feed.withdraw(_task_ref(task_ref))

    return Router(
        path="/control",
        route_handlers=[
            rotate,
            show_faults,
            set_faults,
            clear_faults,
            received,
            put_task,
            withdraw_task,
        ],
        guards=[guard],
        exception_handlers=exception_handlers(),
    )
