"""Evidence over HTTP: the tus upload endpoints, and the stored files for those who may see them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from litestar import Controller, Request, Response, delete, get, head, patch, post, route
from litestar.enums import HttpMethod
from litestar.exceptions import InternalServerException
from litestar.params import FromPath
from litestar.response import File
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from backend.errors import NotFound, TusProtocolError, UnsupportedFileType
from backend.http.deps import Caller, Ctx, DbSession
from backend.http.security import request_id_of, requires_inspector

from . import tus
from .access import Evidence, evidence_of, file_of_task
from .tus import UPLOADS_PATH
from .uploads import ClientGone, thumbnail_key


def _tus_headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": tus.VERSION, "Cache-Control": "no-store", **extra}


async def _body(request: Request[Any, Any, Any]) -> AsyncIterator[bytes]:
    """The request body as it arrives; a connection lost midway becomes ``ClientGone``."""
    try:
        async for piece in request.stream():
            yield piece
    except InternalServerException as exc:
        raise ClientGone from exc


def _check_patch_type(request: Request[Any, Any, Any]) -> None:
    if request.headers.get("content-type", "").split(";")[0].strip() != tus.OFFSET_OCTET_STREAM:
        raise UnsupportedFileType(f"PATCH 的 Content-Type 必须是 {tus.OFFSET_OCTET_STREAM}")


class UploadController(Controller):
    """tus 1.0 (core, creation, creation-with-upload, checksum, termination, expiration)."""

    path = UPLOADS_PATH
    tags = ["evidence"]
    opt = {"read_only": True}  # no request transaction: the service writes in short ones

    @route(
        "/",
        http_method=[HttpMethod.OPTIONS],
        status_code=HTTP_204_NO_CONTENT,
        operation_id="tusOptions",
        exclude_from_auth=True,
    )
    async def announce(self, ctx: Ctx) -> Response[None]:
        """tus discovery: version, extensions, the largest file and the checksum algorithms (no sign-in).

        Litestar registers a controller's handlers in name order and gives a path its own OPTIONS
        handler when the first handler registered there has none: this one's name sorts first.
        """
        return Response(
            None,
            status_code=HTTP_204_NO_CONTENT,
            headers={
                "Tus-Resumable": tus.VERSION,
                "Tus-Version": tus.VERSION,
                "Tus-Extension": tus.EXTENSIONS,
                "Tus-Max-Size": str(ctx.settings.upload_max_bytes),
                "Tus-Checksum-Algorithm": ",".join(tus.CHECKSUM_ALGORITHMS),
            },
        )

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        operation_id="createUpload",
        guards=[requires_inspector],
        request_max_body_size=None,
    )
    async def create(
        self, request: Request[Any, Any, Any], principal: Caller, ctx: Ctx
    ) -> Response[None]:
        """Create an upload (metadata ``sha256`` and ``task_id`` required); with a body, its first bytes."""
        headers = request.headers
        tus.check_version(headers)
        if "upload-defer-length" in headers:
            raise TusProtocolError("不支持 Upload-Defer-Length：请给出 Upload-Length")
        length = tus.integer_header(headers, "Upload-Length")
        metadata = tus.parse_metadata(headers.get("upload-metadata"))
        with_body = headers.get("content-type", "").split(";")[0].strip() == tus.OFFSET_OCTET_STREAM
        upload = await ctx.uploads.create(
            principal,
            length,
            metadata,
            body=_body(request) if with_body else None,
            checksum=tus.parse_checksum(headers.get("upload-checksum")) if with_body else None,
            request_id=request_id_of(request),
        )
        answer = _tus_headers(
            Location=f"{UPLOADS_PATH}/{upload.id}",
            **{"Upload-Expires": tus.http_date(upload.expires_at)},
        )
        if with_body:
            answer["Upload-Offset"] = str(upload.offset)
        return Response(None, status_code=HTTP_201_CREATED, headers=answer)

    @head("/{upload_id:uuid}", operation_id="getUploadOffset", guards=[requires_inspector])
    async def offset(
        self,
        upload_id: FromPath[uuid.UUID],
        request: Request[Any, Any, Any],
        principal: Caller,
        ctx: Ctx,
    ) -> Response[None]:
        """Where my upload stands: ``Upload-Offset`` is what is on the server's disk."""
        tus.check_version(request.headers)
        upload = await ctx.uploads.find(principal, upload_id)
        headers = _tus_headers(
            **{
                "Upload-Offset": str(upload.offset),
                "Upload-Length": str(upload.length),
                "Upload-Metadata": tus.encode_metadata(upload.metadata_),
            }
        )
        if upload.state == "open":
            headers["Upload-Expires"] = tus.http_date(upload.expires_at)
        return Response(None, status_code=HTTP_200_OK, headers=headers)

    @patch(
        "/{upload_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        operation_id="appendToUpload",
        guards=[requires_inspector],
        request_max_body_size=None,
    )
    async def append(
        self,
        upload_id: FromPath[uuid.UUID],
        request: Request[Any, Any, Any],
        principal: Caller,
        ctx: Ctx,
    ) -> Response[None]:
        """Append bytes at ``Upload-Offset`` (409 if it is not where the upload stands, 460 on a bad checksum)."""
        headers = request.headers
        tus.check_version(headers)
        _check_patch_type(request)
        offset = tus.integer_header(headers, "Upload-Offset")
        checksum = tus.parse_checksum(headers.get("upload-checksum"))
        upload = await ctx.uploads.write(
            principal, upload_id, offset, _body(request), checksum, request_id_of(request)
        )
        answer = _tus_headers(**{"Upload-Offset": str(upload.offset)})
        if upload.state == "open":
            answer["Upload-Expires"] = tus.http_date(upload.expires_at)
        return Response(None, status_code=HTTP_204_NO_CONTENT, headers=answer)

    @delete("/{upload_id:uuid}", operation_id="terminateUpload", guards=[requires_inspector])
    async def terminate(
        self,
        upload_id: FromPath[uuid.UUID],
        request: Request[Any, Any, Any],
        principal: Caller,
        ctx: Ctx,
    ) -> Response[None]:
        """End my upload and drop what it received (tus termination)."""
        tus.check_version(request.headers)
        await ctx.uploads.terminate(principal, upload_id)
        return Response(None, status_code=HTTP_204_NO_CONTENT, headers=_tus_headers())


class FileController(Controller):
    """Whether the server holds a file I sent: a phone skips sending it again."""

    path = "/api/v1/files"
    tags = ["evidence"]
    guards = [requires_inspector]

    @head("/{digest:str}", operation_id="hasFile")
    async def has(self, digest: FromPath[str], principal: Caller, ctx: Ctx) -> Response[None]:
        """200 when I have uploaded the file with this sha256 before and it is stored; 404 otherwise."""
        stored = await ctx.uploads.sent_by(principal, digest)
        if stored is None:
            raise NotFound("服务器上没有这个文件")
        return Response(
            None,
            status_code=HTTP_200_OK,
            headers={"X-File-Size": str(stored.size), "X-File-Type": stored.media_type},
        )


class TaskFileController(Controller):
    """A task's evidence files, for those who may see the task."""

    path = "/api/v1/tasks/{task_id:uuid}/files"
    tags = ["evidence"]
    guards = [requires_inspector]

    @get("/", operation_id="getTaskEvidence")
    async def evidence(
        self, task_id: FromPath[uuid.UUID], principal: Caller, db_session: DbSession
    ) -> Evidence:
        """The files the task's records name, which have arrived, and whether the record is complete."""
        return await evidence_of(db_session, principal, task_id)

    @get("/{digest:str}", operation_id="getTaskFile")
    async def original(
        self,
        task_id: FromPath[uuid.UUID],
        digest: FromPath[str],
        principal: Caller,
        ctx: Ctx,
        db_session: DbSession,
    ) -> File:
        """The stored file, byte for byte as it arrived."""
        stored = await file_of_task(db_session, principal, task_id, digest)
        return _serve(ctx, digest, stored.media_type)

    @get("/{digest:str}/thumbnail", operation_id="getTaskFileThumbnail")
    async def thumbnail(
        self,
        task_id: FromPath[uuid.UUID],
        digest: FromPath[str],
        principal: Caller,
        ctx: Ctx,
        db_session: DbSession,
    ) -> File:
        """A small JPEG of the image for review screens."""
        stored = await file_of_task(db_session, principal, task_id, digest)
        if stored.decode_error is not None or (
            not stored.has_thumbnail and not await ctx.uploads.ensure_thumbnail(digest)
        ):
            raise NotFound(
                "这张图片无法完整解码，没有缩略图；原文件仍可下载", decode_error=stored.decode_error
            )
        return _serve(ctx, thumbnail_key(digest), "image/jpeg")


def _serve(ctx: Ctx, key: str, media_type: str) -> File:
    path = ctx.uploads.store.local_path(key)
    if path is None:
        raise NotFound("文件不在存储中")
    return File(
        path=path,
        media_type=media_type,
        content_disposition_type="inline",
        filename=key.rsplit("/", 1)[-1],
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=31536000, immutable",
        },
    )
