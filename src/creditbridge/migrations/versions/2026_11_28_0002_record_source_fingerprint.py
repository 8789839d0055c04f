"""record_source_fingerprint

A fingerprint of the delivered cells beside each record version, so that an unchanged re-delivery
is recognised without validating, serialising and digesting every row again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without a default: on both stores an instant, metadata-only change.
    with op.batch_alter_table("subject_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_fingerprint", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subject_record", schema=None) as batch_op:
        batch_op.drop_column("source_fingerprint")
