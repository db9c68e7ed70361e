"""The authorization code flow with PKCE (RFC 6749, RFC 7636; OpenID Connect Core 1.0).

An authorization code is single use, bound to its client, redirect URI, PKCE challenge (S256
only) and nonce, and lives one minute. Errors are the OAuth error codes, never a page that
leaks whether a user exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from backend.clock import Clock

from .identities import Client, Identity
from .keys import KeyRing

CODE_LIFETIME = timedelta(minutes=1)
TOKEN_LIFETIME = timedelta(minutes=10)


class OAuthError(Exception):
    """An error the token endpoint answers as ``{"error": code, "error_description": …}``."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status


@dataclass(frozen=True, slots=True)
class Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    scope: str
    identity: Identity
    auth_time: datetime
    expires_at: datetime


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a grant type
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105 - a token type
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - a token type
SUBJECT_TOKEN_ALGORITHMS = ["EdDSA", "RS256", "ES256"]
SUBJECT_TOKEN_MAX_LIFETIME = timedelta(minutes=5)
LEEWAY = timedelta(seconds=30)
CLIENT_CREDENTIALS = "client_credentials"
CLIENT_SCOPES = frozenset({"tasks:read"})
"""What a client may ask for on its own account: reading the task feed."""


class Issuer:
    def __init__(
        self,
        issuer: str,
        keys: KeyRing,
        clients: dict[str, Client],
        clock: Clock,
        subjects: frozenset[str] = frozenset(),
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.keys = keys
        self.clients = clients
        self._clock = clock
        self._grants: dict[str, Grant] = {}
        self._subjects = subjects
        self._seen_jti: dict[str, datetime] = {}

    @property
    def api_audience(self) -> str:
        """The audience of the platform's own API (what forwarded results are sent to)."""
        return f"{self.issuer}/api"

    def client_token(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        """The client credentials grant (RFC 6749 §4.4): an access token to the platform's API on
        the client's own account (``sub`` is the client id) — for the task feed, never for results,
        which are sent on behalf of a person."""
        requested = frozenset(form.get("scope", "").split()) or CLIENT_SCOPES
        if not requested <= CLIENT_SCOPES:
            raise OAuthError("invalid_scope", "a client may ask for tasks:read only")
        scope = " ".join(sorted(requested))
        now = self._clock.now()
        claims = {
            "iss": self.issuer,
            "sub": client.client_id,
            "aud": self.api_audience,
            "client_id": client.client_id,
            "scope": scope,
            "iat": int(now.timestamp()),
            "exp": int((now + TOKEN_LIFETIME).timestamp()),
            "jti": str(uuid.uuid4()),
        }
        return {
            "access_token": self.keys.sign(claims, typ="at+jwt"),
            "token_type": "Bearer",
            "expires_in": int(TOKEN_LIFETIME.total_seconds()),
            "scope": scope,
        }

    def exchange_token(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        """RFC 8693: the client's own short-lived JWT naming a person, for an access token to the
        platform's API on that person's behalf (``act`` names the client)."""
        if form.get("subject_token_type") != JWT_TOKEN_TYPE:
            raise OAuthError("invalid_request", f"subject_token_type must be {JWT_TOKEN_TYPE}")
        audience = form.get("audience") or form.get("resource") or self.api_audience
        if audience != self.api_audience:
            raise OAuthError("invalid_target", "the platform issues tokens for its API only")
        now = self._clock.now()
        claims = self._subject_claims(client, form.get("subject_token", ""), now)
        self._seen_jti = {j: t for j, t in self._seen_jti.items() if t > now}
        if claims["jti"] in self._seen_jti:
            raise OAuthError("invalid_grant", "the subject token was used already")
        expires = datetime.fromtimestamp(claims["exp"], tz=now.tzinfo)
        self._seen_jti[claims["jti"]] = expires + LEEWAY
        iat, exp = int(now.timestamp()), int((now + TOKEN_LIFETIME).timestamp())
        access = {
            "iss": self.issuer,
            "sub": claims["sub"],
            "aud": self.api_audience,
            "act": {"sub": client.client_id},
            "client_id": client.client_id,
            "iat": iat,
            "exp": exp,
            "jti": str(uuid.uuid4()),
        }
        return {
            "access_token": self.keys.sign(access, typ="at+jwt"),
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "Bearer",
            "expires_in": int(TOKEN_LIFETIME.total_seconds()),
        }

    def _subject_claims(self, client: Client, token: str, now: datetime) -> dict[str, Any]:
        if client.keys is None:
            raise OAuthError("unauthorized_client", "no key is registered for token exchange")
        try:
            header = jwt.get_unverified_header(token)
            key = client.keys[str(header.get("kid", ""))]
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=SUBJECT_TOKEN_ALGORITHMS,
                audience=f"{self.issuer}/oidc/token",
                issuer=client.client_id,
                # times are checked below against the platform's clock (injected in tests)
                options={
                    "require": ["iss", "sub", "aud", "exp", "iat", "jti"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise OAuthError("invalid_grant", f"the subject token is not valid: {exc}") from exc
        if not all(type(claims.get(name, 0)) is int for name in ("exp", "iat", "nbf")):
            raise OAuthError("invalid_grant", "exp, iat and nbf must be whole seconds")
        if claims["exp"] < (now - LEEWAY).timestamp():
            raise OAuthError("invalid_grant", "the subject token has expired")
        if claims.get("nbf", 0) > (now + LEEWAY).timestamp():
            raise OAuthError("invalid_grant", "the subject token is not valid yet")
        if claims["exp"] - claims["iat"] > SUBJECT_TOKEN_MAX_LIFETIME.total_seconds():
            raise OAuthError("invalid_grant", "a subject token lives at most 5 minutes")
        if claims["iat"] > (now + LEEWAY).timestamp():
            raise OAuthError("invalid_grant", "the subject token was issued in the future")
        if (claims.get("act") or {}).get("sub") != client.client_id:
            raise OAuthError("invalid_grant", "act.sub must name the client")
        if claims["sub"] not in self._subjects:
            raise OAuthError("invalid_grant", "unknown subject")
        return claims

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/oidc/authorize",
            "token_endpoint": f"{self.issuer}/oidc/token",
            "jwks_uri": f"{self.issuer}/oidc/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", CLIENT_CREDENTIALS, TOKEN_EXCHANGE],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "profile", *sorted(CLIENT_SCOPES)],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "preferred_username",
            ],
        }

    def client_for(self, client_id: str, redirect_uri: str) -> Client:
        """The client of an authorization request; an unknown one or a foreign redirect is never redirected to."""
        client = self.clients.get(client_id)
        if client is None:
            raise OAuthError("invalid_client", "unknown client")
        if redirect_uri not in client.redirect_uris:
            raise OAuthError("invalid_request", "redirect_uri is not registered for this client")
        return client

    def check_request(self, params: dict[str, str]) -> None:
        """What an authorization request must carry (answered at the client's redirect URI)."""
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "only response_type=code")
        if "openid" not in params.get("scope", "").split():
            raise OAuthError("invalid_scope", "scope must include openid")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            raise OAuthError("invalid_request", "PKCE with code_challenge_method=S256 is required")
        if not 43 <= len(params["code_challenge"]) <= 128:
            raise OAuthError("invalid_request", "code_challenge has the wrong length")

    def grant(self, params: dict[str, str], identity: Identity) -> str:
        now = self._clock.now()
        self._expire(now)
        code = secrets.token_urlsafe(32)
        self._grants[code] = Grant(
            client_id=params["client_id"],
            redirect_uri=params["redirect_uri"],
            code_challenge=params["code_challenge"],
            nonce=params.get("nonce") or None,
            scope=params.get("scope", "openid"),
            identity=identity,
            auth_time=now,
            expires_at=now + CODE_LIFETIME,
        )
        return code

    def exchange_code(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        now = self._clock.now()
        grant = self._grants.pop(form.get("code", ""), None)  # single use: gone on first sight
        if grant is None or grant.expires_at < now:
            raise OAuthError("invalid_grant", "the code is unknown, used or expired")
        if grant.client_id != client.client_id or grant.redirect_uri != form.get("redirect_uri"):
            raise OAuthError(
                "invalid_grant", "the code was issued to another client or redirect_uri"
            )
        verifier = form.get("code_verifier", "")
        if not hmac.compare_digest(s256(verifier).encode(), grant.code_challenge.encode()):
            raise OAuthError("invalid_grant", "PKCE verification failed")
        return self._tokens(client, grant, now)

    def _tokens(self, client: Client, grant: Grant, now: datetime) -> dict[str, Any]:
        iat, exp = int(now.timestamp()), int((now + TOKEN_LIFETIME).timestamp())
        id_claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": grant.identity.subject,
            "aud": client.client_id,
            "iat": iat,
            "exp": exp,
            "auth_time": int(grant.auth_time.timestamp()),
            "preferred_username": grant.identity.username,
        }
        if grant.nonce is not None:
            id_claims["nonce"] = grant.nonce
        access_claims = {
            "iss": self.issuer,
            "sub": grant.identity.subject,
            "aud": f"{self.issuer}/api",
            "client_id": client.client_id,
            "scope": grant.scope,
            "iat": iat,
            "exp": exp,
            "jti": str(uuid.uuid4()),
        }
        return {
            "access_token": self.keys.sign(access_claims, typ="at+jwt"),
            "id_token": self.keys.sign(id_claims),
            "token_type": "Bearer",
            "expires_in": int(TOKEN_LIFETIME.total_seconds()),
            "scope": grant.scope,
        }

    def _expire(self, now: datetime) -> None:
        for code in [c for c, g in self._grants.items() if g.expires_at < now]:
            del self._grants[code]
