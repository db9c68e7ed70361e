"""One error body for every error: RFC 9457 problem details (``application/problem+json``)."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from backend.domain.media import tus
from backend.errors import DomainError

from .security import request_id_of

logger = logging.getLogger("zsjg.errors")
PROBLEM_JSON = "application/problem+json"
_RESERVED = {"type", "title", "status", "detail", "instance", "code", "request_id"}


def _problem(
    request: Request[Any, Any, Any],
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    **extra: Any,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": f"urn:zsjg:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        "request_id": request_id_of(request),
    }
    body.update({k: v for k, v in extra.items() if k not in _RESERVED})
    headers = {"X-Request-ID": body["request_id"]}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="zsjg"'
    if request.url.path.startswith(tus.UPLOADS_PATH):  # tus errors carry it like its answers
        headers["Tus-Resumable"] = tus.VERSION
        if status == 412:
            headers["Tus-Version"] = tus.VERSION
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    return _problem(
        request, status=exc.status, code=exc.code, title=exc.title, detail=exc.detail, **exc.extra
    )


def _validation_error(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    return _problem(
        request,
        status=400,
        code="validation-failed",
        title="请求内容不符合要求",
        detail=exc.detail,
        errors=exc.extra if isinstance(exc.extra, list) else [exc.extra] if exc.extra else [],
    )


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    phrase = HTTPStatus(exc.status_code).phrase
    code = phrase.lower().replace(" ", "-").replace("'", "")
    response = _problem(request, status=exc.status_code, code=code, title=phrase, detail=exc.detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _problem(
        request,
        status=500,
        code="internal-error",
        title="Internal Server Error",
        detail="服务器内部错误，已记录",
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: _domain_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_JSON", "MediaType"]
