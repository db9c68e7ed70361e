"""The working-day calendar: the official schedules (放假安排) loaded, year by year."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ._base import Base


class CalendarYear(Base):
    """A year whose official schedule is loaded; a year without a row falls back to plain weekends."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(Text)
    """The notice it comes from (title and 文号)."""
    origin: Mapped[str] = mapped_column(String(16))
    """``shipped`` (with the software) or ``operator`` (loaded or corrected by an operator)."""
    digest: Mapped[str] = mapped_column(String(64))
    """sha256 of the schedule's canonical form, to see at a glance whether two calendars agree."""
    loaded_at: Mapped[datetime]
    loaded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class CalendarDay(Base):
    """A day that differs from the weekend rule: a holiday, or a make-up working day (调休)."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(
        ForeignKey("calendar_years.year", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
