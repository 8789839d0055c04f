"""product_revisions

Issue 23, "Products": a bank edits, pauses, resumes and withdraws its products. Each step is a row
of ``marketplace_product_revision``; an edit of a live product waits there for the operator's
review while the approved terms stay on ``marketplace_product``. Existing products get no rows:
their history starts with their next change (``created_at`` and the review columns of the product
row already tell how they were published).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import creditbridge.core.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "marketplace_product_revision",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("changes", _JSON, nullable=False),
        sa.Column("previous", _JSON, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("submitted_by", sa.String(length=200), nullable=False),
        sa.Column("submitted_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("review_note", sa.String(length=500), nullable=True),
        sa.Column("reviewed_by", sa.String(length=200), nullable=True),
        sa.Column("reviewed_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["marketplace_product.id"],
            name=op.f("fk_marketplace_product_revision_product_id_marketplace_product"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_product_revision")),
    )
    with op.batch_alter_table("marketplace_product_revision", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_marketplace_product_revision_product_id"), ["product_id"], unique=False
        )
        batch_op.create_index(
            "ix_marketplace_product_revision_status", ["status", "submitted_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("marketplace_product_revision", schema=None) as batch_op:
        batch_op.drop_index("ix_marketplace_product_revision_status")
        batch_op.drop_index(batch_op.f("ix_marketplace_product_revision_product_id"))
    op.drop_table("marketplace_product_revision")
