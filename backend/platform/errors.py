"""The platform API's refusals, and the one table that turns them into HTTP answers.

Every refusal of ``/api/*`` and ``/control/*`` is the same JSON shape, the one the connector is
coded against: ``{"error": <code>, "error_description": <text>, …extra}`` (OAuth's shape, which
the token endpoint already answers with). The services raise these nouns; only
``error_response`` knows the status codes.

    PlatformError
    ├── InvalidRequest        400 invalid_request   (a header or body is missing or malformed)
    ├── InvalidCursor         400 invalid_cursor    (the feed's cursor is not one we handed out)
    ├── InvalidToken          401 invalid_token     (+ WWW-Authenticate: Bearer)
    ├── InsufficientScope     403 insufficient_scope (a valid token of the wrong kind)
    ├── NotFound              404 not_found
    ├── UnsupportedMediaType  415 unsupported_media_type
    ├── DigestMismatch        422 digest_mismatch
    ├── PhotosMissing         422 photos_missing    (+ "missing": [sha256, …])
    ├── RecordMissing         422 record_missing
    ├── IdempotencyKeyReused  422 idempotency_key_reused
    └── Refused               422 refused           (a permanent refusal, set by the controls)
"""

from __future__ import annotations

from typing import Any, ClassVar

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap


class PlatformError(Exception):
    """A refusal answered as ``{"error": code, "error_description": description, **extra}``."""

    code: ClassVar[str] = "server_error"

    def __init__(self, description: str, **extra: Any) -> None:
        super().__init__(description)
        self.description = description
        self.extra = extra


class InvalidRequest(PlatformError):
    code = "invalid_request"


class InvalidCursor(PlatformError):
    code = "invalid_cursor"


class InvalidToken(PlatformError):
    code = "invalid_token"


class InsufficientScope(PlatformError):
    code = "insufficient_scope"


class NotFound(PlatformError):
    code = "not_found"


class UnsupportedMediaType(PlatformError):
    code = "unsupported_media_type"


class DigestMismatch(PlatformError):
    code = "digest_mismatch"


class PhotosMissing(PlatformError):
    code = "photos_missing"


class RecordMissing(PlatformError):
    code = "record_missing"


class IdempotencyKeyReused(PlatformError):
    code = "idempotency_key_reused"


class Refused(PlatformError):
    code = "refused"


STATUS: dict[type[PlatformError], int] = {
    InvalidRequest: 400,
    InvalidCursor: 400,
    InvalidToken: 401,
    InsufficientScope: 403,
    NotFound: 404,
    UnsupportedMediaType: 415,
    DigestMismatch: 422,
    PhotosMissing: 422,
    RecordMissing: 422,
    IdempotencyKeyReused: 422,
    Refused: 422,
}

BEARER_CHALLENGE = {
    InvalidToken: 'Bearer error="invalid_token"',
    InsufficientScope: 'Bearer error="insufficient_scope"',
}


def error_body(code: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "error_description": description, **extra}


def error_response(_: Request[Any, Any, Any], exc: PlatformError) -> Response[dict[str, Any]]:
    """The HTTP answer of a refusal (registered for ``PlatformError`` on the API and controls)."""
    headers = {"Cache-Control": "no-store"}
    if (challenge := BEARER_CHALLENGE.get(type(exc))) is not None:
        headers["WWW-Authenticate"] = challenge
    return Response(
        error_body(exc.code, exc.description, **exc.extra),
        status_code=STATUS.get(type(exc), 500),
        headers=headers,
    )


def http_error_response(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    """Litestar's own refusals (a body over the size limit: 413) in the same shape."""
    names = {413: "payload_too_large", 405: "method_not_allowed", 404: "not_found"}
    code = names.get(
        exc.status_code, "invalid_request" if exc.status_code < 500 else "server_error"
    )
    return Response(
        error_body(code, str(exc.detail)),
        status_code=exc.status_code,
        headers={"Cache-Control": "no-store", **(exc.headers or {})},
    )


def exception_handlers() -> ExceptionHandlersMap:
    """The table of the API's and the controls' routers."""
    return {PlatformError: error_response, HTTPException: http_error_response}
