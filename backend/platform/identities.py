"""The people the platform knows (its directory), and the clients allowed to ask it for tokens."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass

import jwt

_SUBJECTS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:zsjg:reference-platform:people")


def subject_of(username: str) -> str:
    """A person's stable subject (``sub``) at the platform: not their user name."""
    return str(uuid.uuid5(_SUBJECTS, username))


@dataclass(frozen=True, slots=True)
class Identity:
    username: str
    subject: str


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    secret: str
    redirect_uris: frozenset[str]
    keys: jwt.PyJWKSet | None = None
    """The client's registered public keys: its subject tokens for token exchange are signed with them."""

    def authenticates(self, secret: str) -> bool:
        return hmac.compare_digest(secret.encode(), self.secret.encode())


class Directory:
    """The demo identities: everyone in the backend's demo, with the one demo password."""

    def __init__(self, usernames: list[str], password: str) -> None:
        self._people = {name: Identity(name, subject_of(name)) for name in usernames}
        self._password = password

    @property
    def subjects(self) -> frozenset[str]:
        return frozenset(person.subject for person in self._people.values())

    def check(self, username: str, password: str) -> Identity | None:
        person = self._people.get(username)
        password_ok = hmac.compare_digest(password.encode(), self._password.encode())
        return person if person is not None and password_ok else None


DEMO_USERNAMES = [
    *(f"insp{i:02d}" for i in range(1, 26)),
    *(f"lead{i:02d}" for i in range(1, 6)),
    "ops01",
]
