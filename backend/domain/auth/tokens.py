"""Access tokens (Ed25519-signed JWTs, PyJWT) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from backend.errors import InvalidToken

ALGORITHMS = ["EdDSA"]
"""The only algorithm accepted: an explicit allow-list, never taken from the token."""
REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat", "jti", "sid", "gen", "role"]
LEEWAY = timedelta(seconds=30)
FOREIGN_HEADERS = ("crit", "jku", "x5u", "jwk", "x5c", "b64")
"""Headers the backend never writes: a token carrying one is refused before anything is fetched."""
VERIFIED_KEPT = 4096
"""How many verified access tokens the signer remembers (a few per device in use)."""


class SigningKeyMissing(RuntimeError):
    """The access-token signing key file does not exist and may not be generated."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    device_id: uuid.UUID
    generation: int
    role: str
    expires_at: datetime


class TokenSigner:
    """Signs and verifies the backend's own access tokens."""

    def __init__(self, private_key: Ed25519PrivateKey, *, issuer: str, audience: str) -> None:
        self._private_key = private_key
        self._public_key: Ed25519PublicKey = private_key.public_key()
        raw = self._public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.kid = hashlib.sha256(raw).hexdigest()[:16]
        self._issuer = issuer
        self._audience = audience
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()

    @classmethod
    def from_file(cls, path: Path, *, generate: bool, issuer: str, audience: str) -> TokenSigner:
        if not path.exists():
            if not generate:
                raise SigningKeyMissing(f"signing key file {path} does not exist")
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            path.touch(mode=0o600)
            path.write_bytes(pem)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyMissing(f"{path} does not hold an Ed25519 private key")
        return cls(key, issuer=issuer, audience=audience)

    def issue(
        self,
        *,
        user_id: uuid.UUID,
        device_id: uuid.UUID,
        generation: int,
        role: str,
        now: datetime,
        ttl: timedelta,
    ) -> tuple[str, datetime]:
        expires_at = now + ttl
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(user_id),
            "sid": str(device_id),
            "gen": generation,
            "role": role,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self._private_key, algorithm="EdDSA", headers={"kid": self.kid})
        return token, expires_at

    def sign_assertion(self, claims: dict[str, Any]) -> str:
        """A JWT of the backend's own making for another party (the subject token of a token
        exchange), signed with the same key; the platform verifies it with ``public_jwk``."""
        return jwt.encode(claims, self._private_key, algorithm="EdDSA", headers={"kid": self.kid})

    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK, for registering the backend at the platform."""
        jwk: dict[str, Any] = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self._public_key))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "EdDSA"}

    def verify(self, token: str, *, now: datetime) -> AccessClaims:
        """The token's claims, once its signature, issuer, audience and times are checked.

        A phone sends the same access token with every request for its lifetime: a token
        verified once is remembered (the last ``VERIFIED_KEPT``), and each later use checks
        only that it has not expired. Whether its device session is still live is the
        caller's check, every time.
        """
        known = self._verified.get(token)
        if known is not None:
            if known.expires_at.timestamp() + LEEWAY.total_seconds() < now.timestamp():
                raise InvalidToken("the access token has expired")
            self._verified.move_to_end(token)
            return known
        claims = self._verify(token, now=now)
        self._verified[token] = claims
        if len(self._verified) > VERIFIED_KEPT:
            self._verified.popitem(last=False)
        return claims

    def _verify(self, token: str, *, now: datetime) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self.kid:
                raise InvalidToken("unknown signing key")
            if any(name in header for name in FOREIGN_HEADERS):
                raise InvalidToken("the access token carries headers the backend never writes")
            if header.get("typ", "JWT") != "JWT":
                raise InvalidToken("not an access token of this backend")
            claims = jwt.decode(
                token,
                self._public_key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY,
                # times are checked below against the injected clock
                options={
                    "require": REQUIRED_CLAIMS,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
            if not all(type(claims.get(name, 0)) is int for name in ("exp", "iat", "nbf", "gen")):
                raise InvalidToken("the access token's exp, iat, nbf and gen must be integers")
            exp = int(claims["exp"])
            iat = int(claims["iat"])
            stamp = now.timestamp()
            if exp + LEEWAY.total_seconds() < stamp:
                raise InvalidToken("the access token has expired")
            if iat - LEEWAY.total_seconds() > stamp:
                raise InvalidToken("the access token was issued in the future")
            if "nbf" in claims and int(claims["nbf"]) - LEEWAY.total_seconds() > stamp:
                raise InvalidToken("the access token is not valid yet")
            return AccessClaims(
                user_id=uuid.UUID(claims["sub"]),
                device_id=uuid.UUID(claims["sid"]),
                generation=int(claims["gen"]),
                role=str(claims["role"]),
                expires_at=datetime.fromtimestamp(exp, tz=now.tzinfo),
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"the access token is not valid: {exc}") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidToken("the access token's claims are malformed") from exc


def new_refresh_token() -> tuple[str, str]:
    """A fresh opaque refresh token and the sha256 (hex) that is stored instead of it."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
