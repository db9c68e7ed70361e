"""``/api``: the platform's API for the backend's connector — the results intake, the publication
status of a record, and the task feed (wire format: docs/platform-api.md)."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.params import FromPath
from litestar.types import ASGIApp

from .api_auth import ApiAuth, CallerKind
from .errors import (
    InsufficientScope,
    InvalidRequest,
    UnsupportedMediaType,
    error_body,
    exception_handlers,
)
from .faults import ApiGate, FaultSwitch
from .feed import DEFAULT_LIMIT, MAX_LIMIT, FeedPage, TaskFeed
from .intake import (
    MAX_PHOTO_BYTES,
    PHOTO_TYPES,
    AssignmentMessage,
    Intake,
    Message,
    PhotoMessage,
    Publication,
    RecordMessage,
    ReferralMessage,
    canonical,
    fingerprint,
    photo_digest,
)

AnyRequest = Request[Any, Any, Any]
M = TypeVar("M", RecordMessage, ReferralMessage, AssignmentMessage)
PEOPLE = (CallerKind.DELEGATE,)
"""Results are sent on behalf of a person (the 主检), by a client: token exchange tokens."""
ANYONE = (CallerKind.CLIENT, CallerKind.DELEGATE, CallerKind.PERSON)
TASKS_SCOPE = "tasks:read"


def _idempotency_key(request: AnyRequest) -> str:
    key = request.headers.get("idempotency-key")
    if key is None or not 1 <= len(key) <= 200 or not key.isprintable():
        raise InvalidRequest("Idempotency-Key (1 to 200 printable characters) is required")
    return key


def _decode(body: bytes, kind: type[M]) -> M:
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"the body does not fit: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"the body is not JSON: {exc}") from exc


def api_router(*, auth: ApiAuth, intake: Intake, feed: TaskFeed, faults: FaultSwitch) -> Router:
    """The ``/api`` routes, behind the fault gate."""

    async def submit(
        request: AnyRequest, key: str, message: Message, *parts: str | bytes
    ) -> Response[Any]:
        outcome = await intake.submit(
            key,
            fingerprint(request.method, request.url.path, *parts),
            message,
            refused_records=faults.refused_records(),
        )
        headers = {"Cache-Control": "no-store"}
        if outcome.replayed:
            headers["Idempotent-Replayed"] = "true"
        elif faults.lose_answer():
            body = error_body("server_error", "stored, but the answer was lost (an injected fault)")
            return Response(body, status_code=500, headers=headers)
        return Response(outcome.answer.body, status_code=outcome.answer.status, headers=headers)

    async def submit_json(request: AnyRequest, kind: type[M]) -> Response[Any]:
        """A JSON message on a person's behalf: checked, decoded strictly, then stored once."""
        auth.caller(request.headers.get("authorization"), PEOPLE)
        key = _idempotency_key(request)
        message = _decode(await request.body(), kind)
        return await submit(request, key, message, canonical(message))

    @post(
        "/results/photos",
        request_max_body_size=MAX_PHOTO_BYTES,
        status_code=201,
        operation_id="ReceivePhoto",
    )
    async def receive_photo(request: AnyRequest) -> Response[Any]:
        """Receives one photo (the raw image bytes), idempotent by its ``Idempotency-Key``."""
        auth.caller(request.headers.get("authorization"), PEOPLE)
        key = _idempotency_key(request)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in PHOTO_TYPES:
            raise UnsupportedMediaType("Content-Type must be image/jpeg, image/png or image/webp")
        task_ref = request.headers.get("x-task-ref", "")
        if not 1 <= len(task_ref) <= 200:
            raise InvalidRequest("X-Task-Ref (the backend's task id) is required")
        body = await request.body()
        if not body:
            raise InvalidRequest("the body (the image) is empty")
        sha256 = photo_digest(request.headers.get("repr-digest"), body)
        message = PhotoMessage(task_ref, media_type, sha256, len(body))
        return await submit(request, key, message, media_type, task_ref, sha256)

    @post("/results/records", status_code=201, operation_id="ReceiveRecord")
    async def receive_record(request: AnyRequest) -> Response[Any]:
        """Receives one version of an inspection record; its photos must have arrived first."""
        return await submit_json(request, RecordMessage)

    @post("/results/referrals", status_code=201, operation_id="ReceiveReferral")
    async def receive_referral(request: AnyRequest) -> Response[Any]:
        """Receives a referral (抄告/移送) of a record already received."""
        return await submit_json(request, ReferralMessage)

    @post("/results/assignments", status_code=201, operation_id="ReceiveAssignment")
    async def receive_assignment(request: AnyRequest) -> Response[Any]:
        """Receives a team lead's reassignment of a task (on the lead's behalf)."""
        return await submit_json(request, AssignmentMessage)

    @get(
        "/results/records/{record_key:str}/publication",
        operation_id="RecordPublication",
    )
    async def publication(request: AnyRequest, record_key: FromPath[str]) -> Publication:
        """Whether a received record is published yet."""
        auth.caller(request.headers.get("authorization"), ANYONE)
        return intake.publication(record_key)

    @get("/tasks/feed", operation_id="TaskFeed")
    async def task_feed(request: AnyRequest) -> FeedPage:
        """The tasks changed after ``cursor``: the latest version of each, in the order changed."""
        caller = auth.caller(request.headers.get("authorization"), (CallerKind.CLIENT,))
        if TASKS_SCOPE not in caller.scopes:
            raise InsufficientScope("the token lacks the tasks:read scope")
        cursor = request.query_params.get("cursor") or None
        raw_limit = request.query_params.get("limit", str(DEFAULT_LIMIT))
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}")
        return feed.page(cursor, int(raw_limit))

    def gate(app: ASGIApp) -> ASGIApp:
        # a closure, not DefineMiddleware(…, faults=…): Litestar deep-copies a registered
        # router, and with it DefineMiddleware's arguments — the gate would see copies
        return ApiGate(app, faults, intake)

    return Router(
        path="/api",
        route_handlers=[
            receive_photo,
            receive_record,
            receive_referral,
            receive_assignment,
            publication,
            task_feed,
        ],
        middleware=[gate],
        exception_handlers=exception_handlers(),
    )
