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


class Issuer:
    def __init__(
        self, issuer: str, keys: KeyRing, clients: dict[str, Client], clock: Clock
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.keys = keys
        self.clients = clients
        self._clock = clock
        self._grants: dict[str, Grant] = {}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/oidc/authorize",
            "token_endpoint": f"{self.issuer}/oidc/token",
            "jwks_uri": f"{self.issuer}/oidc/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "profile"],
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
