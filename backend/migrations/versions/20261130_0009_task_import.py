"""Task import: platform references, holds, pending changes, the feed cursor, held imports

A task's platform reference and version, why it is held, a change waiting for the lead; the
feed's cursor; the feed tasks that could not become tasks.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("platform_ref", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("platform_version", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("platform_task", JsonB, nullable=True))
        batch.add_column(sa.Column("hold_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("platform_change_pending", JsonB, nullable=True))
        batch.create_unique_constraint(op.f("uq_tasks_platform_ref"), ["platform_ref"])
    op.create_table(
        "upstream_cursors",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_upstream_cursors")),
    )
    op.create_table(
        "held_imports",
        sa.Column("task_ref", sa.String(length=200), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("payload", JsonB, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("first_seen_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("last_seen_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("resolved_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("task_id", GUID(length=16), nullable=True),
        sa.Column("team_id", GUID(length=16), nullable=True),
        sa.Column("id", GUID(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_held_imports_task_id_tasks")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_held_imports_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_imports")),
        sa.UniqueConstraint("task_ref", name=op.f("uq_held_imports_task_ref")),
    )
    op.create_index(op.f("ix_held_imports_team_id"), "held_imports", ["team_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_held_imports_team_id"), table_name="held_imports")
    op.drop_table("held_imports")
    op.drop_table("upstream_cursors")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_constraint(op.f("uq_tasks_platform_ref"), type_="unique")
        batch.drop_column("platform_change_pending")
        batch.drop_column("hold_reason")
        batch.drop_column("platform_task")
        batch.drop_column("platform_version")
        batch.drop_column("platform_ref")
