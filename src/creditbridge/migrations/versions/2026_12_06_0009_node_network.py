"""node_network

Issue 14, "Node network": this deployment as a node (``exchange_node``), its SM2 signing keys
with their validity (``exchange_node_key``, the private half sealed under the data key), the
registry of peer nodes with their identity documents, status and health (``exchange_peer``), and
every admission decision with its reasons and the checks' findings (``exchange_admission_review``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import creditbridge.core.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "exchange_node",
        sa.Column("id", _ID, nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("created_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_node")),
        sa.UniqueConstraint("code", name=op.f("uq_exchange_node_code")),
    )
    op.create_table(
        "exchange_node_key",
        sa.Column("id", _ID, nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.String(length=1000), nullable=False),
        sa.Column("private_sealed", _JSON, nullable=False),
        sa.Column("valid_from", creditbridge.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", creditbridge.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_node_key")),
        sa.UniqueConstraint("key_id", name=op.f("uq_exchange_node_key_key_id")),
    )
    op.create_table(
        "exchange_peer",
        sa.Column("id", _ID, nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("identity", _JSON, nullable=False),
        sa.Column(
            "identity_issued_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("assessment", _JSON, nullable=True),
        sa.Column("assessment_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status_reason", sa.String(length=1000), nullable=True),
        sa.Column("created_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "last_contact_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("last_sync_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lag_seconds", sa.Integer(), nullable=True),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column(
            "quarantined_until", creditbridge.core.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_peer")),
        sa.UniqueConstraint("code", name=op.f("uq_exchange_peer_code")),
    )
    op.create_table(
        "exchange_admission_review",
        sa.Column("id", _ID, nullable=False),
        sa.Column("peer_id", _ID, nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=24), nullable=False),
        sa.Column("to_status", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("findings", _JSON, nullable=False),
        sa.Column("reviewed_by", sa.String(length=64), nullable=False),
        sa.Column("reviewed_at", creditbridge.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["exchange_peer.id"],
            name=op.f("fk_exchange_admission_review_peer_id_exchange_peer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_admission_review")),
    )
    with op.batch_alter_table("exchange_admission_review", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_admission_review_peer_id"), ["peer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("exchange_admission_review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_admission_review_peer_id"))

    op.drop_table("exchange_admission_review")
    op.drop_table("exchange_peer")
    op.drop_table("exchange_node_key")
    op.drop_table("exchange_node")
