"""Departments, teams, users and the inspector's profile."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ._base import Base, CreatedMixin, IdMixin


class Role(enum.StrEnum):
    INSPECTOR = "inspector"
    TEAM_LEAD = "team_lead"
    OPERATOR = "operator"


class DepartmentLevel(enum.StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        values_callable=lambda e: [m.value for m in e],
        length=32,
        validate_strings=True,
        create_constraint=True,
    )


class Department(IdMixin, CreatedMixin, Base):
    """A regulating body (机构): 市场监管局, 卫健委 … A task's items may come from several."""

    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(18), unique=True)
    """机构代码 (the body's 统一社会信用代码)."""
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[DepartmentLevel] = mapped_column(_enum(DepartmentLevel, "department_level"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("departments.id"))


class Team(IdMixin, CreatedMixin, Base):
    """A team (检查组 / 科室) of inspectors under one lead, inside one department."""

    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"))
    lead_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, name="fk_teams_lead_id_users")
    )

    department: Mapped[Department] = relationship(lazy="raise")


class User(IdMixin, CreatedMixin, Base):
    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"))
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"))
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    platform_subject: Mapped[str | None] = mapped_column(String(128), unique=True)
    """The subject (``sub``) of this person at the main platform's single sign-on."""
    active: Mapped[bool] = mapped_column(default=True)

    department: Mapped[Department] = relationship(lazy="raise")
    profile: Mapped[InspectorProfile | None] = relationship(lazy="raise", uselist=False)


class InspectorProfile(Base):
    """执法检查人员 profile: the 执法证 and what the person is qualified to inspect."""

    __tablename__ = "inspector_profiles"
    __table_args__ = (
        CheckConstraint("certificate_valid_from <= certificate_valid_until", name="cert_dates"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    certificate_no: Mapped[str] = mapped_column(String(32), unique=True)
    """执法证号 (provincial format, kept as text)."""
    certificate_valid_from: Mapped[date]
    certificate_valid_until: Mapped[date]
    qualification_areas: Mapped[list[str]] = mapped_column(default=list)
    """Codes of the areas this inspector may inspect (see ``backend.domain.people.qualifications``)."""
    specialties: Mapped[list[str]] = mapped_column(default=list)
    updated_at: Mapped[datetime | None]

    def certificate_valid_on(self, day: date) -> bool:
        return self.certificate_valid_from <= day <= self.certificate_valid_until


class ConflictOfInterest(IdMixin, CreatedMixin, Base):
    """A declared conflict of interest (回避) between an inspector and an inspection object."""

    __tablename__ = "conflicts_of_interest"
    __table_args__ = (UniqueConstraint("inspector_id", "object_id"),)

    inspector_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    object_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("inspection_objects.id"), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(16))
    """``inspector`` (declared by the inspector) or ``business`` (requested by the business)."""
    declared_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
