"""The task feed: its items as the platform sends them, and the HTTP client that reads its pages."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

import httpx
import msgspec

from backend.clock import Clock
from backend.domain.fields import Code, Name, USCCInput
from backend.domain.upstream.platform_client import RENEW_BEFORE, retry_after

_NO_NUL = r"^[^\x00]*$"
"""PostgreSQL stores no NUL in text or jsonb: an item carrying one is malformed, not a page error."""
Version = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
"""As large as a BIGINT holds: a larger one is a malformed item, not a failed page."""
TaskRef = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=_NO_NUL)]
"""As long as the platform allows (docs/platform-api.md)."""
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[^\x00]*$")]
"""A task number or an item code: the platform's, as long as our columns hold."""
Subject = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=_NO_NUL)]


class FeedPlan(msgspec.Struct, kw_only=True):
    code: Code
    name: Name
    starts_on: date
    ends_on: date


class FeedObject(msgspec.Struct, kw_only=True):
    uscc: USCCInput
    name: Name
    address: Annotated[str, msgspec.Meta(max_length=300, pattern=r"^[^\x00]*$")]
    legal_representative: Annotated[str, msgspec.Meta(max_length=64, pattern=r"^[^\x00]*$")]
    phone: Annotated[str, msgspec.Meta(max_length=32, pattern=r"^[^\x00]*$")] | None = None


class FeedTask(msgspec.Struct, kw_only=True):
    code: ShortText
    name: Name
    plan: FeedPlan
    object: FeedObject
    item_codes: Annotated[list[ShortText], msgspec.Meta(min_length=1, max_length=30)]
    department_code: Annotated[str, msgspec.Meta(min_length=1, max_length=18, pattern=_NO_NUL)]
    """The 统一社会信用代码 of the lead department."""
    inspector_subjects: Annotated[list[Subject], msgspec.Meta(min_length=1, max_length=20)]
    primary_subject: Subject
    issued_on: date
    due_on: date


class FeedItem(msgspec.Struct, kw_only=True):
    task_ref: TaskRef
    version: Version
    state: Literal["active", "withdrawn"]
    task: FeedTask | None = None

    def __post_init__(self) -> None:
        if self.state == "active" and self.task is None:
            raise ValueError("an active item carries its task")


class _ItemKey(msgspec.Struct):
    """The little of a malformed item that may still be read, to key its held import."""

    task_ref: TaskRef
    version: Version = 0


class FeedPage(msgspec.Struct, kw_only=True):
    items: list[msgspec.Raw]
    """Decoded one by one: a malformed item becomes a held import, the page goes on."""
    cursor: str
    more: bool


# the feed's HTTP side ----------------------------------------------------------------------


class FeedError(Exception):
    """The feed could not be read this round (nothing is changed; the next round tries again)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.error = error
        """The platform's error code (``invalid_cursor``: read again from the beginning)."""


class FeedClient:
    """``GET {platform}/api/tasks/feed`` with a client-credentials bearer, cached until a minute
    before it expires and renewed once on a 401."""

    def __init__(
        self,
        *,
        base_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout)
        self._token: tuple[str, datetime] | None = None
        self.token_requests = 0

    async def close(self) -> None:
        await self._http.aclose()

    async def page(self, cursor: str | None, limit: int) -> FeedPage:
        params: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        try:
            response = await self._get(params, await self._bearer())
            if response.status_code == 401:
                self._token = None
                response = await self._get(params, await self._bearer())
        except httpx.HTTPError as exc:
            raise FeedError(f"network: {exc!r}"[:500]) from exc
        if response.status_code != 200:
            try:
                error = response.json().get("error")
            except (ValueError, AttributeError):
                error = None
            raise FeedError(
                f"the feed answered {response.status_code}: {response.text[:300]}",
                status=response.status_code,
                retry_after=retry_after(response.headers.get("retry-after"), self._clock.now()),
                error=error if isinstance(error, str) else None,
            )
        try:
            return msgspec.json.decode(response.content, type=FeedPage)
        except msgspec.DecodeError as exc:  # ValidationError included
            raise FeedError(f"the feed's answer is not a feed page: {exc}", status=200) from exc

    async def _get(self, params: dict[str, str | int], token: str) -> httpx.Response:
        return await self._http.get(
            f"{self.base_url}/api/tasks/feed",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
        )

    async def _bearer(self) -> str:
        now = self._clock.now()
        if self._token is not None and self._token[1] - RENEW_BEFORE > now:
            return self._token[0]
        self.token_requests += 1
        response = await self._http.post(
            self._token_url,
            data={"grant_type": "client_credentials"},
            auth=(self._client_id, self._client_secret),
        )
        if response.status_code != 200:
            raise FeedError(
                f"the token endpoint answered {response.status_code}: {response.text[:300]}",
                status=response.status_code,
            )
        try:
            body = response.json()
            token = str(body["access_token"])
            lifetime = int(body.get("expires_in", 300))
        except (ValueError, KeyError, TypeError) as exc:
            raise FeedError("the token endpoint's answer has no access_token") from exc
        self._token = (token, now + timedelta(seconds=max(lifetime, 0)))
        return token
