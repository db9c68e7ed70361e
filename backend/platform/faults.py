"""Faults the platform can be told to show on its API (``PUT /control/faults``), so the
backend's connector can be tested against a platform that is slow, down, throttling, forgetful of
tokens, flaky, or that loses its answers.

Faults apply to ``/api/*`` only and are decided when a request arrives, before anything is
stored, in this order: an outage (503 until ``outage_until`` on the platform's clock, with
``Retry-After``), throttling (429 for the next n requests, with ``Retry-After``), refused tokens
(401 for the next n), a random error rate (500, drawn from ``random.Random(seed)``, reseeded at
every ``PUT`` so a fault set gives the same sequence each time). A request that passes them is
handled; its answer, whatever it is, is held back ``delay_ms``. Two faults act inside the
intake: ``refuse_records`` (a permanent 422 for those record keys) and ``fail_after_store``
(the next n newly stored messages answer 500 — a lost answer: a retry with the same key gets the
stored answer, replayed).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import anyio
import msgspec
from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from msgspec import Meta, Struct

from backend.clock import Clock

from .errors import error_body
from .intake import Intake

Count = Annotated[int, Meta(ge=0, le=1_000_000)]


class Throttle(Struct, forbid_unknown_fields=True):
    count: Count
    """How many of the next ``/api`` requests answer 429."""
    retry_after: Annotated[int, Meta(ge=0, le=86_400)]
    """The ``Retry-After`` they carry, in seconds."""


class Faults(Struct, forbid_unknown_fields=True):
    """The whole fault set; a field left out is off. Counts go down as the faults are shown."""

    error_rate: Annotated[float, Meta(ge=0, le=1)] = 0.0
    delay_ms: Annotated[int, Meta(ge=0, le=60_000)] = 0
    unauthorized: Count = 0
    throttle: Throttle | None = None
    outage_until: Annotated[datetime, Meta(tz=True)] | None = None
    refuse_records: list[str] = msgspec.field(default_factory=list)
    fail_after_store: Count = 0


@dataclass(frozen=True, slots=True)
class Fault:
    """A refusal decided by the faults: the answer instead of handling the request."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class FaultSwitch:
    """The current fault set and the random draws of its error rate."""

    def __init__(self, clock: Clock, seed: int = 0) -> None:
        self._clock = clock
        self._seed = seed
        self._random = random.Random(seed)  # noqa: S311 - a reproducible fault, not a secret
        self.faults = Faults()

    def set(self, faults: Faults) -> Faults:
        self.faults = faults
        self._random = random.Random(self._seed)  # noqa: S311 - a reproducible fault, not a secret
        return faults

    def clear(self) -> Faults:
        return self.set(Faults())

    def on_arrival(self) -> Fault | None:
        """The fault an ``/api`` request arriving now meets, if any (counts one down)."""
        faults = self.faults
        now = self._clock.now()
        if faults.outage_until is not None and now < faults.outage_until:
            left = max(1, math.ceil((faults.outage_until - now).total_seconds()))
            body = error_body("temporarily_unavailable", "the platform is down for maintenance")
            return Fault(503, body, {"Retry-After": str(left)})
        if faults.throttle is not None and faults.throttle.count > 0:
            throttle = faults.throttle
            self.faults = msgspec.structs.replace(
                faults, throttle=msgspec.structs.replace(throttle, count=throttle.count - 1)
            )
            body = error_body("rate_limited", "too many requests")
            return Fault(429, body, {"Retry-After": str(throttle.retry_after)})
        if faults.unauthorized > 0:
            self.faults = msgspec.structs.replace(faults, unauthorized=faults.unauthorized - 1)
            body = error_body("invalid_token", "the access token was revoked")
            return Fault(401, body, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if faults.error_rate > 0 and self._random.random() < faults.error_rate:
            return Fault(500, error_body("server_error", "an injected server error"), {})
        return None

    def refused_records(self) -> frozenset[str]:
        return frozenset(self.faults.refuse_records)

    def lose_answer(self) -> bool:
        """Whether the answer of a message just stored is to be lost (``fail_after_store``)."""
        if self.faults.fail_after_store <= 0:
            return False
        self.faults = msgspec.structs.replace(
            self.faults, fail_after_store=self.faults.fail_after_store - 1
        )
        return True


class ApiGate:
    """ASGI middleware of ``/api``: counts each ``Idempotency-Key``, shows the arrival faults,
    and holds every answer back ``delay_ms``."""

    def __init__(self, app: ASGIApp, faults: FaultSwitch, intake: Intake) -> None:
        self.app = app
        self.faults = faults
        self.intake = intake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        key = Headers.from_scope(scope).get("idempotency-key")
        if key is not None:
            self.intake.count_attempt(key)
        delay = self.faults.faults.delay_ms / 1000
        fault = self.faults.on_arrival()

        async def delayed(message: Message) -> None:
            if message["type"] == "http.response.start" and delay > 0:
                await anyio.sleep(delay)
            await send(message)

        if fault is None:
            await self.app(scope, receive, delayed)
            return
        body = msgspec.json.encode(fault.body)
        headers = {
            "content-type": "application/json",
            "content-length": str(len(body)),
            "cache-control": "no-store",
            **{name.lower(): value for name, value in fault.headers.items()},
        }
        await delayed(
            {
                "type": "http.response.start",
                "status": fault.status,
                "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})
