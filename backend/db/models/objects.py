"""Inspection objects (检查对象名录库)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ._base import Base, CreatedMixin, IdMixin
from .people import _enum


class ObjectKind(enum.StrEnum):
    ENTERPRISE = "enterprise"
    """企业"""
    INDIVIDUAL = "individual"
    """个体工商户"""
    COOPERATIVE = "cooperative"
    """农民专业合作社"""
    OTHER = "other"


class InspectionObject(IdMixin, CreatedMixin, Base):
    """检查对象: a market entity that can be drawn for inspection."""

    __tablename__ = "inspection_objects"

    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    """统一社会信用代码 (GB 32100, check character verified on entry)."""
    name: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[ObjectKind] = mapped_column(_enum(ObjectKind, "object_kind"))
    address: Mapped[str] = mapped_column(String(300))
    legal_representative: Mapped[str] = mapped_column(String(64))
    legal_representative_phone: Mapped[str | None] = mapped_column(String(32))
    contact_person: Mapped[str | None] = mapped_column(String(64))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    industry: Mapped[str | None] = mapped_column(String(100))
    risk_level: Mapped[str | None] = mapped_column(String(16))
    """风险等级: A (低) … D (高)."""
    credit_class: Mapped[str | None] = mapped_column(String(16))
    """信用分类: A … D."""
    latitude: Mapped[str | None] = mapped_column(String(16))
    """Decimal degrees as a string with fixed decimals (never a float: canonical content)."""
    longitude: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime | None]
