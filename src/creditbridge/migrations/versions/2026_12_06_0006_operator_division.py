"""operator_division

Issue 23, "Operators by region": an operator account belongs to an administrative division
(GB/T 2260 province, city or county code). A province operator sees its whole province, a city or
county operator only its own part; a NULL division is the whole node (existing accounts keep it, so
nothing they see changes until the system administrator assigns a division).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without a default: on both stores an instant, metadata-only change.
    with op.batch_alter_table("access_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("division_code", sa.String(length=12), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_access_user_division_code"), ["division_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("access_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_user_division_code"))
        batch_op.drop_column("division_code")
