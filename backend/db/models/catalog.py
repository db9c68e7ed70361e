"""The published list of inspection items (抽查事项清单) and the versioned code tables."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ._base import Base, CreatedMixin, IdMixin, utcnow
from .people import Department, _enum


class ItemCategory(enum.StrEnum):
    GENERAL = "general"
    """一般检查事项"""
    KEY = "key"
    """重点检查事项"""


class InspectionItem(IdMixin, CreatedMixin, Base):
    """抽查事项: one entry of the published list. Its content lives in versions."""

    __tablename__ = "inspection_items"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"), index=True)
    listed: Mapped[bool] = mapped_column(default=True)
    """Whether the item is on the published list now (清单之外无检查)."""
    current_version: Mapped[int] = mapped_column(Integer, default=1)

    department: Mapped[Department] = relationship(lazy="raise")
    versions: Mapped[list[InspectionItemVersion]] = relationship(
        lazy="raise", back_populates="item", order_by="InspectionItemVersion.version"
    )


class InspectionItemVersion(IdMixin, Base):
    """One published version of an item and its checklist; a task keeps the version it was issued with."""

    __tablename__ = "inspection_item_versions"
    __table_args__ = (UniqueConstraint("item_id", "version"),)

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("inspection_items.id"))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    basis: Mapped[str] = mapped_column(Text)
    """依据"""
    category: Mapped[ItemCategory] = mapped_column(_enum(ItemCategory, "item_category"))
    method: Mapped[str] = mapped_column(String(200))
    """检查方式"""
    qualification_area: Mapped[str] = mapped_column(String(32))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)

    item: Mapped[InspectionItem] = relationship(lazy="raise", back_populates="versions")
    points: Mapped[list[ChecklistPoint]] = relationship(
        lazy="raise", order_by="ChecklistPoint.ordinal", back_populates="item_version"
    )


class ChecklistPoint(IdMixin, Base):
    """A checklist point of an item version: 检查内容, 检查方法, default problem text."""

    __tablename__ = "checklist_points"
    __table_args__ = (UniqueConstraint("item_version_id", "ordinal"),)

    item_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inspection_item_versions.id"), index=True
    )
    ordinal: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(Text)
    default_problem_text: Mapped[str] = mapped_column(Text)

    item_version: Mapped[InspectionItemVersion] = relationship(
        lazy="raise", back_populates="points"
    )


class CodeTableVersion(IdMixin, Base):
    """One version of a code table served to clients (检查结果, 后续处置, 核查方式 …).

    Entries are data, with their combination rules, so phones check them offline and the
    server checks them again.
    """

    __tablename__ = "code_table_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(100))
    entries: Mapped[list[dict[str, Any]]] = mapped_column()
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
