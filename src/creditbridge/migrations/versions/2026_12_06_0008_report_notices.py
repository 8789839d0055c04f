"""report_notices

Issue 23, "Long work shows progress": the worker tells the user who asked for a report PDF that
it is ready (with its download) or that it failed, among the user's other messages. One row of
``reports_notice`` per request, unique on the key the request's run carries, so that a run
delivered twice writes one notice.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import creditbridge.core.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reports_notice",
        sa.Column("id", _ID, nullable=False),
        sa.Column("request_key", sa.String(length=32), nullable=True),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", _ID, nullable=False),
        sa.Column("report_no", sa.String(length=40), nullable=True),
        sa.Column("created_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_reports_notice_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports_notice")),
        sa.UniqueConstraint("request_key", name=op.f("uq_reports_notice_request_key")),
    )
    with op.batch_alter_table("reports_notice", schema=None) as batch_op:
        batch_op.create_index("ix_reports_notice_user", ["user_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reports_notice", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_notice_user")
    op.drop_table("reports_notice")
