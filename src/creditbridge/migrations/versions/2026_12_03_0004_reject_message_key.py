"""reject_message_key

Issue 12, point 5: a reject report line keeps its message as a key of the message tables with
its parameters, so that an English page shows the report in English while the stored Chinese
``message`` stays what providers and their scripts read. Lines stored before this revision keep
NULL and are shown in Chinese.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns without a default: on both stores an instant, metadata-only change.
    with op.batch_alter_table("ingest_reject", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_key", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column(
                "message_params",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("ingest_reject", schema=None) as batch_op:
        batch_op.drop_column("message_params")
        batch_op.drop_column("message_key")
