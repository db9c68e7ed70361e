"""Who is calling: set on every authenticated request by the authentication middleware."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from backend.db.models import Role


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    device_id: uuid.UUID
    role: Role
