"""The backend as an OpenID Connect relying party of the main platform (a confidential client).

It reads the issuer's discovery document, sends the browser to its authorization endpoint
(code flow with PKCE S256, ``state`` and ``nonce``), trades the code for tokens with its client
secret, and verifies the ID token with PyJWT against the issuer's JWKS:

* the algorithm comes from an allow-list, never from the token alone, and must fit the key;
* ``iss``, ``aud``, ``exp``, ``iat`` and ``sub`` are required, times are checked against the
  injected clock with a leeway of ``LEEWAY`` (at most 60 s);
* keys come only from the issuer's ``jwks_uri``: a token naming its own key (``jku``, ``x5u``,
  ``jwk``, ``x5c``) or an extension the backend does not understand (``crit``) is refused
  without any request being made;
* an unknown ``kid`` refreshes the JWKS at most once per ``JWKS_COOLDOWN`` after a fetch that
  worked, and once per ``JWKS_RETRY`` after one that failed.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from backend.clock import Clock

ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
"""Asymmetric algorithms only: an ID token is never accepted with ``none`` or an HMAC."""
LEEWAY = timedelta(seconds=30)
JWKS_COOLDOWN = timedelta(minutes=5)
JWKS_RETRY = timedelta(seconds=5)
"""After a failed JWKS fetch: soon enough that one hiccup of the issuer does not lock every
sign-in out for the whole cooldown, late enough that a failing issuer is not hammered."""
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "sub"]
FOREIGN_KEY_HEADERS = ("jku", "x5u", "jwk", "x5c")
TIMEOUT = httpx.Timeout(10.0)
MAX_TIMESTAMP = 253_402_300_800
"""9999-12-31T24:00Z: a time at or after it cannot be a datetime."""
_KEY_TYPES = {"RS256": "RSA", "PS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}


class SsoError(Exception):
    """The sign-in cannot go on; ``reason`` is for the audit trail, ``message`` for the person."""

    def __init__(self, reason: str, message: str = "统一身份认证登录失败，请重新登录") -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class RelyingParty:
    issuer: str
    client_id: str
    client_secret: str
    scope: str = "openid profile"


@dataclass(frozen=True, slots=True)
class IdClaims:
    subject: str
    username: str | None
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class _Metadata:
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


class OidcClient:
    def __init__(
        self,
        party: RelyingParty,
        clock: Clock,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.party = party
        self._clock = clock
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._metadata: _Metadata | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._declared: dict[str, str] = {}
        """The ``alg`` a JWKS entry names, when it names one."""
        self._keys_fetched_at: datetime | None = None
        self._keys_failed_at: datetime | None = None
        self._lock = asyncio.Lock()
        self.jwks_fetches = 0
        """How many times the JWKS was fetched (the cooldown's test reads it)."""

    @property
    def _http(self) -> httpx.AsyncClient:
        """Made on first use, after each ``close`` (an app may be started again)."""
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self._transport, timeout=TIMEOUT)
        return self._client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def metadata(self) -> _Metadata:
        if self._metadata is None:
            url = self.party.issuer.rstrip("/") + "/.well-known/openid-configuration"
            document = await self._get_json(url)
            if document.get("issuer") != self.party.issuer:
                raise SsoError(f"the discovery document names issuer {document.get('issuer')!r}")
            try:
                self._metadata = _Metadata(
                    authorization_endpoint=str(document["authorization_endpoint"]),
                    token_endpoint=str(document["token_endpoint"]),
                    jwks_uri=str(document["jwks_uri"]),
                )
            except KeyError as exc:
                raise SsoError(f"the discovery document lacks {exc}") from exc
        return self._metadata

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        endpoint = (await self.metadata()).authorization_endpoint
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.party.client_id,
                "redirect_uri": redirect_uri,
                "scope": self.party.scope,
                "state": state,
                "nonce": nonce,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return endpoint + ("&" if "?" in endpoint else "?") + query

    async def redeem_code(self, *, code: str, redirect_uri: str, code_verifier: str) -> str:
        """The ID token the token endpoint gives for an authorization code (the other tokens are
        dropped: the backend issues its own session and keeps no SSO token)."""
        endpoint = (await self.metadata()).token_endpoint
        try:
            response = await self._http.post(
                endpoint,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": code_verifier,
                },
                auth=(self.party.client_id, self.party.client_secret),
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise SsoError(
                f"the token endpoint could not be reached: {exc!r}", _UNREACHABLE
            ) from exc
        if response.status_code != 200:
            raise SsoError(
                f"the token endpoint answered {response.status_code}: {response.text[:200]}"
            )
        try:
            id_token = response.json()["id_token"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SsoError("the token endpoint's answer holds no id_token") from exc
        if not isinstance(id_token, str):
            raise SsoError("the id_token is not a string")
        return id_token

    async def verify_id_token(self, token: str, *, nonce: str) -> IdClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise SsoError(f"the ID token is malformed: {exc}") from exc
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise SsoError(f"the ID token's algorithm {algorithm!r} is not allowed")
        if "crit" in header:
            raise SsoError("the ID token names critical extensions the backend does not support")
        for name in FOREIGN_KEY_HEADERS:
            if name in header:
                raise SsoError(f"the ID token names its own key ({name}); keys come from the JWKS")
        typ = header.get("typ")
        if typ is not None and str(typ).lower() not in ("jwt", "application/jwt"):
            raise SsoError(f"a token of type {typ!r} is not an ID token")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise SsoError("the ID token names no key (kid)")
        key = await self._key(kid)
        declared = self._declared.get(kid)
        if key.key_type != _KEY_TYPES[algorithm] or declared not in (None, algorithm):
            raise SsoError(f"key {kid} is not a key for {algorithm}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=self.party.client_id,
                issuer=self.party.issuer,
                options={
                    "require": REQUIRED_CLAIMS,
                    # times are checked below against the backend's clock (injected in tests)
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise SsoError(f"the ID token is not valid: {exc}") from exc
        return self._checked(claims, nonce)

    def _checked(self, claims: dict[str, Any], nonce: str) -> IdClaims:
        now = self._clock.now().timestamp()
        leeway = LEEWAY.total_seconds()
        for name in ("exp", "iat", "nbf"):
            if name in claims and (
                not isinstance(claims[name], int | float)
                or isinstance(claims[name], bool)
                or not math.isfinite(claims[name])  # json reads NaN and Infinity
                or not 0 <= claims[name] < MAX_TIMESTAMP
            ):
                raise SsoError(f"the ID token's {name} is not a time")
        if claims["exp"] + leeway < now:
            raise SsoError("the ID token has expired")
        if claims["iat"] - leeway > now:
            raise SsoError("the ID token was issued in the future")
        if "nbf" in claims and claims["nbf"] - leeway > now:
            raise SsoError("the ID token is not valid yet")
        audience = claims["aud"]
        if (
            isinstance(audience, list)
            and len(audience) > 1
            and claims.get("azp") != self.party.client_id
        ):
            raise SsoError("an ID token for several audiences must name this client as azp")
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
            raise SsoError("the ID token's nonce is not this sign-in's")
        subject = claims["sub"]
        if not isinstance(subject, str) or not 0 < len(subject) <= 128:
            raise SsoError("the ID token's subject is malformed")
        username = claims.get("preferred_username")
        return IdClaims(
            subject=subject,
            username=username if isinstance(username, str) else None,
            issued_at=datetime.fromtimestamp(claims["iat"], tz=self._clock.now().tzinfo),
        )

    async def _key(self, kid: str) -> jwt.PyJWK:
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._lock:
            key = self._keys.get(kid)
            if key is not None:
                return key  # another request fetched it meanwhile
            now = self._clock.now()
            if self._keys_fetched_at is not None and now - self._keys_fetched_at < JWKS_COOLDOWN:
                raise SsoError(f"unknown key {kid} (the JWKS was fetched less than 5 minutes ago)")
            if self._keys_failed_at is not None and now - self._keys_failed_at < JWKS_RETRY:
                raise SsoError(f"unknown key {kid} (the JWKS could not be fetched just now)")
            try:
                await self._fetch_keys(now)
            except SsoError:
                self._keys_failed_at = now
                raise
        key = self._keys.get(kid)
        if key is None:
            raise SsoError(f"the issuer does not publish key {kid}")
        return key

    async def _fetch_keys(self, now: datetime) -> None:
        self.jwks_fetches += 1
        document = await self._get_json((await self.metadata()).jwks_uri)
        self._keys_fetched_at, self._keys_failed_at = now, None
        keys: dict[str, jwt.PyJWK] = {}
        declared: dict[str, str] = {}
        for entry in document.get("keys", []):
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK.from_dict(entry)
            except jwt.PyJWTError:
                continue  # a key of a kind the backend cannot use is skipped, not fatal
            if isinstance(entry.get("kid"), str):
                keys[entry["kid"]] = key
                if isinstance(entry.get("alg"), str):
                    declared[entry["kid"]] = entry["alg"]
        self._keys, self._declared = keys, declared

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise SsoError(f"{url} could not be reached: {exc!r}", _UNREACHABLE) from exc
        if response.status_code != 200:
            raise SsoError(f"{url} answered {response.status_code}", _UNREACHABLE)
        try:
            document = response.json()
        except (ValueError, json.JSONDecodeError) as exc:
            raise SsoError(f"{url} did not answer JSON") from exc
        if not isinstance(document, dict):
            raise SsoError(f"{url} did not answer a JSON object")
        return document


_UNREACHABLE = "暂时无法连接统一身份认证平台，请稍后重试"
