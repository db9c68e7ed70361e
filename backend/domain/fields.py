"""Annotated field types for request bodies: bounded, non-blank, no NUL characters.

Every string a client sends has a length the database column can hold (PostgreSQL refuses
longer values; SQLite would silently store them) and no NUL (PostgreSQL text cannot hold one).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

_NO_NUL = r"^[^\x00]*$"
_NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"

Code = Annotated[
    str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-/]*$")
]
"""An identifier such as a task number: letters, digits and . _ - /."""
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=_NOT_BLANK)]
ShortName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=_NOT_BLANK)]
Address = Annotated[str, msgspec.Meta(min_length=1, max_length=300, pattern=_NOT_BLANK)]
Phone = Annotated[str, msgspec.Meta(min_length=3, max_length=32, pattern=r"^[0-9+\-() ]+$")]
Reason = Annotated[str, msgspec.Meta(min_length=2, max_length=500, pattern=_NOT_BLANK)]
Grade = Annotated[str, msgspec.Meta(pattern=r"^[A-D]$")]
"""A grade A–D (risk level, credit class)."""
Latitude = Annotated[str, msgspec.Meta(pattern=r"^-?(90|[0-8]?\d)\.\d{6}$")]
"""Decimal degrees with exactly six decimals, as a string (canonical content has no floats)."""
Longitude = Annotated[str, msgspec.Meta(pattern=r"^-?(180|1[0-7]\d|\d?\d)\.\d{6}$")]
ItemCode = Annotated[
    str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
]
USCCInput = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=_NO_NUL)]
"""A 统一社会信用代码 as typed; checked (and a normalised suggestion offered) by the service."""
