"""Sign-ins through the platform's single sign-on

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sso_logins",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=True),
        sa.Column("code_verifier", sa.String(length=128), nullable=True),
        sa.Column("expires_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("called_back_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("user_id", GUID(length=16), nullable=True),
        sa.Column("login_code_hash", sa.String(length=64), nullable=True),
        sa.Column("login_code_expires_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("redeemed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sso_logins_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_logins")),
        sa.UniqueConstraint("login_code_hash", name=op.f("uq_sso_logins_login_code_hash")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_sso_logins_state_hash")),
    )


def downgrade() -> None:
    op.drop_table("sso_logins")
