"""The outbox carries a lead's reassignments to the platform too

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

CONSTRAINT = "ck_outbox_messages_outbox_kind"


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_constraint(op.f(CONSTRAINT), type_="check")
        batch.create_check_constraint(
            op.f(CONSTRAINT), "kind IN ('photo', 'record', 'referral', 'assignment')"
        )


def downgrade() -> None:
    op.execute("DELETE FROM outbox_messages WHERE kind = 'assignment'")
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_constraint(op.f(CONSTRAINT), type_="check")
        batch.create_check_constraint(op.f(CONSTRAINT), "kind IN ('photo', 'record', 'referral')")
