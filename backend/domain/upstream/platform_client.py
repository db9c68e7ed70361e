"""The connector's HTTP side: tokens by token exchange (RFC 8693) and one delivery per call.

No person's SSO token is kept for forwarding (it happens days after sign-in): for each delivery
the backend signs its own subject token — at most 5 minutes, ``sub`` the 主检's platform subject,
``act.sub`` the backend's client id, ``aud`` the token endpoint — and exchanges it for an access
token to the platform's API, cached per subject until a minute before it expires and renewed
once on a 401.

A delivery's outcome says what the worker should do: ``sent``, ``retry`` (after the wait the
platform asked for, or a backoff) or ``dead`` (a refusal that no retry can change).
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx

from backend.clock import Clock
from backend.domain.auth.tokens import TokenSigner

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a grant type
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
SUBJECT_TOKEN_LIFETIME = timedelta(minutes=2)
RENEW_BEFORE = timedelta(minutes=1)
RESULT_PATHS = {"record": "records", "referral": "referrals", "assignment": "assignments"}
"""Where each kind of JSON message goes (photos are sent as their bytes)."""
PERMANENT = frozenset({400, 403, 404, 405, 410, 413, 415, 422})
"""Answers that no retry can change: the message waits for an operator as a dead letter."""


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Literal["sent", "retry", "dead"]
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None
    """Seconds the platform asked to wait (Retry-After); such a wait is not counted as a failure."""
    receipt: str | None = None
    requests: int = 1


@dataclass(frozen=True, slots=True)
class Delivery:
    """What to send: the kind, the key, on whose behalf, and the JSON (or the file's bytes)."""

    kind: str
    idempotency_key: str
    subject: str
    payload: dict[str, Any]
    body: bytes | None = None


class TokenError(Exception):
    def __init__(self, message: str, *, permanent: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status = status


class PlatformClient:
    def __init__(
        self,
        *,
        base_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        signer: Callable[[], TokenSigner],
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._signer = signer
        self._clock = clock
        self._transport = transport
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._tokens: dict[str, tuple[str, datetime]] = {}
        self._token_locks: dict[str, asyncio.Lock] = {}
        self.token_requests = 0

    @property
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=self._timeout,
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
            )
        return self._client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def deliver(self, delivery: Delivery) -> Outcome:
        try:
            token = await self.token_for(delivery.subject)
            response = await self._post(delivery, token)
            requests = 1
            if response.status_code == 401:  # the token may have been revoked: renew once
                self._tokens.pop(delivery.subject, None)
                token = await self.token_for(delivery.subject)
                response = await self._post(delivery, token)
                requests = 2
        except TokenError as exc:
            # a refused exchange says nothing about this message (a key not yet registered, the
            # clocks apart, a subject not yet known): a counted retry, a dead letter only after
            # the policy's attempts — never the whole backlog dead at once
            return Outcome("retry", exc.status, str(exc), requests=0)
        except httpx.HTTPError as exc:
            return Outcome("retry", None, f"network: {exc!r}"[:500])
        return _outcome(response, self._clock.now(), requests)

    async def publication(self, subject: str, record_key: str) -> dict[str, Any] | None:
        """The platform's publication status of a record (``None`` when it cannot say now)."""
        try:
            token = await self.token_for(subject)
            response = await self._http.get(
                f"{self.base_url}/api/results/records/{record_key}/publication",
                headers={"Authorization": f"Bearer {token}"},
            )
        except (TokenError, httpx.HTTPError):
            return None
        if response.status_code != 200:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def _post(self, delivery: Delivery, token: str) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": delivery.idempotency_key,
        }
        if delivery.kind == "photo":
            assert delivery.body is not None
            digest = base64.b64encode(hashlib.sha256(delivery.body).digest()).decode()
            headers |= {
                "Content-Type": str(delivery.payload["media_type"]),
                "Repr-Digest": f"sha-256=:{digest}:",
                "X-Task-Ref": str(delivery.payload["task_ref"]),
            }
            return await self._http.post(
                f"{self.base_url}/api/results/photos", content=delivery.body, headers=headers
            )
        path = RESULT_PATHS[delivery.kind]
        return await self._http.post(
            f"{self.base_url}/api/results/{path}", json=delivery.payload, headers=headers
        )

    async def token_for(self, subject: str) -> str:
        """An access token to the platform's API on behalf of ``subject`` (cached)."""
        cached = self._tokens.get(subject)
        if cached is not None and cached[1] - RENEW_BEFORE > self._clock.now():
            return cached[0]
        lock = self._token_locks.setdefault(subject, asyncio.Lock())
        async with lock:  # one exchange per subject at a time, however many deliveries wait
            cached = self._tokens.get(subject)
            if cached is not None and cached[1] - RENEW_BEFORE > self._clock.now():
                return cached[0]
            token, expires = await self._exchange(subject)
            self._tokens[subject] = (token, expires)
            return token

    async def _exchange(self, subject: str) -> tuple[str, datetime]:
        now = self._clock.now()
        iat = int(now.timestamp())
        assertion = self._signer().sign_assertion(
            {
                "iss": self._client_id,
                "sub": subject,
                "aud": self._token_url,
                "act": {"sub": self._client_id},
                "iat": iat,
                "exp": iat + int(SUBJECT_TOKEN_LIFETIME.total_seconds()),
                "jti": uuid.uuid4().hex,
            }
        )
        self.token_requests += 1
        try:
            response = await self._http.post(
                self._token_url,
                data={
                    "grant_type": TOKEN_EXCHANGE,
                    "subject_token": assertion,
                    "subject_token_type": JWT_TYPE,
                    "audience": f"{self.base_url}/api",
                },
                auth=(self._client_id, self._client_secret),
            )
        except httpx.HTTPError as exc:
            raise TokenError(f"token endpoint: {exc!r}"[:500], permanent=False) from exc
        if response.status_code != 200:
            retry = response.status_code >= 500 or response.status_code in (401, 408, 429)
            raise TokenError(
                f"token exchange answered {response.status_code}: {response.text[:300]}",
                permanent=not retry,
                status=response.status_code,
            )
        try:
            body = response.json()
            token = str(body["access_token"])
            lifetime = int(body.get("expires_in", 300))
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenError(
                "the token endpoint's answer has no access_token", permanent=False
            ) from exc
        return token, now + timedelta(seconds=max(lifetime, 0))


def _outcome(response: httpx.Response, now: datetime, requests: int) -> Outcome:
    status = response.status_code
    if 200 <= status < 300:
        try:
            receipt = response.json().get("receipt")
        except (ValueError, AttributeError):
            receipt = None
        return Outcome("sent", status, receipt=str(receipt) if receipt else None, requests=requests)
    error = f"{status}: {response.text[:400]}"
    if status in (429, 503):
        wait = retry_after(response.headers.get("retry-after"), now)
        return Outcome("retry", status, error, retry_after=wait, requests=requests)
    if status in PERMANENT:
        return Outcome("dead", status, error, requests=requests)
    return Outcome("retry", status, error, requests=requests)


MAX_RETRY_AFTER = timedelta(days=7).total_seconds()
"""The longest wait a Retry-After is taken at its word for (a larger one is cut to this)."""


def retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3), in
    any of the three HTTP-date formats (an asctime date has no zone: it is GMT).

    ``None`` — a counted failure with backoff — when it is missing, malformed, or asks for no
    wait at all (0, a date in the past): otherwise a platform answering so would be asked again
    at once, without end and without ever becoming a dead letter.
    """
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if seconds <= 0:
        return None
    return min(seconds, MAX_RETRY_AFTER)
