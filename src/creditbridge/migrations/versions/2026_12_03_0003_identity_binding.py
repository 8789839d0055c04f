"""identity_binding

Issue 21, findings 2 and 3: who may bind an account to an enterprise or institution, and how
often registration and login may be tried.

- ``access_user.org_admin``: an institution's officer-administrator, who invites its officers.
- ``access_invitation``: a link (SM3 of its token kept) binding a new account to one organisation.
- ``access_notification``: notices to an organisation's users when an account is bound to it.
- ``access_attempt``: failed registration checks and logins per enterprise code and per address,
  counted in the database so the limits hold across every worker of the node.
- ``access_admin_change``: a change to an administrator's account awaiting a second administrator.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import creditbridge.core.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_attempt",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scope", sa.String(length=24), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_attempt")),
    )
    with op.batch_alter_table("access_attempt", schema=None) as batch_op:
        batch_op.create_index(
            "ix_access_attempt_scope_key_at", ["scope", "key", "at"], unique=False
        )

    op.create_table(
        "access_admin_change",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "target_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "requested_by_user_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "decided_by_user_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"],
            ["access_user.id"],
            name=op.f("fk_access_admin_change_decided_by_user_id_access_user"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_user_id"],
            ["access_user.id"],
            name=op.f("fk_access_admin_change_requested_by_user_id_access_user"),
        ),
        sa.ForeignKeyConstraint(
            ["target_user_id"],
            ["access_user.id"],
            name=op.f("fk_access_admin_change_target_user_id_access_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_admin_change")),
    )
    with op.batch_alter_table("access_admin_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_access_admin_change_target_user_id"), ["target_user_id"], unique=False
        )

    op.create_table(
        "access_invitation",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column(
            "subject_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("org_admin", sa.Boolean(), nullable=False),
        sa.Column(
            "invited_by_user_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("invited_by", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "accepted_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["accepted_user_id"],
            ["access_user.id"],
            name=op.f("fk_access_invitation_accepted_user_id_access_user"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["access_institution.id"],
            name=op.f("fk_access_invitation_institution_id_access_institution"),
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_user_id"],
            ["access_user.id"],
            name=op.f("fk_access_invitation_invited_by_user_id_access_user"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_access_invitation_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_invitation")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_access_invitation_token_hash")),
    )
    with op.batch_alter_table("access_invitation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_access_invitation_institution_id"), ["institution_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_access_invitation_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "access_notification",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["access_user.id"], name=op.f("fk_access_notification_user_id_access_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_notification")),
    )
    with op.batch_alter_table("access_notification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_access_notification_user_id"), ["user_id"], unique=False
        )

    with op.batch_alter_table("access_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("org_admin", sa.Boolean(), server_default=sa.text("(false)"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("access_user", schema=None) as batch_op:
        batch_op.drop_column("org_admin")

    with op.batch_alter_table("access_notification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_notification_user_id"))

    op.drop_table("access_notification")
    with op.batch_alter_table("access_invitation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_invitation_subject_id"))
        batch_op.drop_index(batch_op.f("ix_access_invitation_institution_id"))

    op.drop_table("access_invitation")
    with op.batch_alter_table("access_admin_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_admin_change_target_user_id"))

    op.drop_table("access_admin_change")
    with op.batch_alter_table("access_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_access_attempt_scope_key_at")

    op.drop_table("access_attempt")
