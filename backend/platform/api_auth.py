"""Who is calling the platform's API: the bearer access token of every ``/api/*`` request.

A token is accepted only if this platform signed it (RS256, the current key or the one before a
rotation, by ``kid``), for this platform (``iss``) and its API (``aud`` = ``{issuer}/api``), and
it has not expired on the platform's clock (30 s leeway). Anything else is ``InvalidToken``
(401). A valid token then names one of three kinds of caller, and each route says which kinds it
serves (``InsufficientScope``, 403, otherwise):

* a **client** on its own account (client credentials grant): ``sub`` is a registered client id,
  no ``act`` — it reads the task feed (scope ``tasks:read``);
* a **delegate**: a person's token held by a client (token exchange, RFC 8693): ``sub`` a known
  person, ``act.sub`` a registered client — results are sent this way, on behalf of the 主检;
* a **person**'s own token (the code flow's access token): ``sub`` a known person, no ``act``.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt

from backend.clock import Clock

from .errors import InsufficientScope, InvalidToken
from .keys import ALGORITHM, KeyRing

LEEWAY = timedelta(seconds=30)
VERIFIED_KEPT = 1024
FORBIDDEN_HEADERS = frozenset({"crit", "jku", "x5u", "jwk", "x5c"})
"""Header parameters never honoured: a verifier that followed them could be pointed at an
attacker's key."""


class CallerKind(enum.Enum):
    CLIENT = "client"
    DELEGATE = "delegate"
    PERSON = "person"


@dataclass(frozen=True, slots=True)
class Caller:
    kind: CallerKind
    subject: str
    client_id: str | None
    scopes: frozenset[str]


class ApiAuth:
    """Verifies the bearer token of an ``/api`` request and says who the caller is."""

    def __init__(
        self,
        *,
        issuer: str,
        keys: KeyRing,
        clients: Collection[str],
        people: Collection[str],
        clock: Clock,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = f"{self.issuer}/api"
        self._keys = keys
        self._clients = frozenset(clients)
        self._people = frozenset(people)
        self._clock = clock
        self._verified: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()
        """Tokens verified once (a connector sends the same one for minutes): later uses check
        only the times and that the signing key is still published."""

    def caller(self, authorization: str | None, allowed: Collection[CallerKind]) -> Caller:
        """The caller of a request with this ``Authorization`` header, if of an allowed kind."""
        caller = self._classify(self.verify(authorization))
        if caller is None or caller.kind not in allowed:
            kinds = " or ".join(kind.value for kind in allowed)
            raise InsufficientScope(f"this resource needs a {kinds} token")
        return caller

    def verify(self, authorization: str | None) -> dict[str, Any]:
        """The claims of a valid bearer token; ``InvalidToken`` for anything else."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("a bearer access token is required")
        token = token.strip()
        known = self._verified.get(token)
        if known is not None:
            kid, remembered = known
            if self._keys.verification_key(kid) is not None:
                self._check_times(remembered)
                self._verified.move_to_end(token)
                return remembered
            del self._verified[token]  # its key is no longer published
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"the token is malformed: {exc}") from exc
        if header.get("alg") != ALGORITHM or FORBIDDEN_HEADERS & header.keys():
            raise InvalidToken("the token's header is not acceptable")
        key = self._keys.verification_key(str(header.get("kid", "")))
        if key is None:
            raise InvalidToken("the token was not signed by this platform's keys")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                # times are checked below against the platform's clock (injected in tests)
                options={
                    "require": ["iss", "aud", "sub", "exp", "iat"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"the token is not valid: {exc}") from exc
        if not all(type(claims.get(name, 0)) is int for name in ("exp", "iat", "nbf")):
            raise InvalidToken("exp, iat and nbf must be whole seconds")
        self._check_times(claims)
        if not isinstance(claims["sub"], str):
            raise InvalidToken("sub must be a string")
        self._verified[token] = (str(header.get("kid", "")), claims)
        if len(self._verified) > VERIFIED_KEPT:
            self._verified.popitem(last=False)
        return claims

    def _check_times(self, claims: dict[str, Any]) -> None:
        now = self._clock.now()
        if claims["exp"] < (now - LEEWAY).timestamp():
            raise InvalidToken("the token has expired")
        if claims.get("nbf", 0) > (now + LEEWAY).timestamp():
            raise InvalidToken("the token is not valid yet")

    def _classify(self, claims: dict[str, Any]) -> Caller | None:
        subject: str = claims["sub"]
        client_id = claims.get("client_id")
        act = claims.get("act")
        actor = act.get("sub") if isinstance(act, dict) else None
        scope = claims.get("scope")
        scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
        if act is None and subject in self._clients and client_id == subject:
            return Caller(CallerKind.CLIENT, subject, subject, scopes)
        if subject not in self._people:
            return None
        if act is None:
            return Caller(CallerKind.PERSON, subject, client_id, scopes)
        if actor in self._clients:
            return Caller(CallerKind.DELEGATE, subject, actor, scopes)
        return None
