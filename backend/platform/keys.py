"""The issuer's signing keys: RS256, published in the JWKS; rotation keeps the previous key
published so tokens signed before a rotation still verify until they expire."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ALGORITHM = "RS256"
KEPT = 2
"""How many keys the JWKS publishes: the signing key and the one before it."""


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = private.public_key().public_numbers()
        thumb = json.dumps(
            {"e": _b64(numbers.e), "kty": "RSA", "n": _b64(numbers.n)}, separators=(",", ":")
        )
        kid = (
            base64.urlsafe_b64encode(hashlib.sha256(thumb.encode()).digest()).rstrip(b"=").decode()
        )
        return cls(kid=kid, private=private)  # the kid is the RFC 7638 thumbprint

    def jwk(self) -> dict[str, str]:
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": ALGORITHM,
            "kid": self.kid,
            "n": _b64(numbers.n),
            "e": _b64(numbers.e),
        }


class KeyRing:
    def __init__(self) -> None:
        self._keys = [SigningKey.generate()]

    @property
    def current(self) -> SigningKey:
        return self._keys[-1]

    def rotate(self) -> SigningKey:
        self._keys = [*self._keys[-(KEPT - 1) :], SigningKey.generate()]
        return self.current

    def verification_key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The public key published under ``kid`` (the current or the previous one), if any."""
        for key in self._keys:
            if key.kid == kid:
                return key.private.public_key()
        return None

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.jwk() for key in reversed(self._keys)]}

    def sign(self, claims: dict[str, Any], *, typ: str = "JWT") -> str:
        key = self.current
        return jwt.encode(
            claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": typ}
        )
