"""Tables of the node network: this node (one row), its signing keys (the private half sealed),
the registry of peers with their identity documents and health, and admission reviews."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from creditbridge.core.db import Base, BigId, JSONType


class Node(Base):
    """This deployment as a node of the network. One row: ``node init`` writes it once."""

    __tablename__ = "exchange_node"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True, doc="GB/T 2260; national 100000")
    level: Mapped[str] = mapped_column(String(16), doc="national | province | city | county")
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500), doc="public base URL peers call")
    created_at: Mapped[datetime]


class NodeKey(Base):
    """One SM2 signing key of this node. The private key is sealed (SM4-GCM under the data key,
    ``protection.service.seal_secret``), never stored in clear; a retired key keeps its public
    half and validity so what it signed still verifies."""

    __tablename__ = "exchange_node_key"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    public_key: Mapped[str] = mapped_column(String(1000), doc="PEM SubjectPublicKeyInfo")
    private_sealed: Mapped[dict[str, Any]]
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None] = mapped_column(default=None)


class Peer(Base):
    """Another node this one exchanges with: at most one upstream, any number downstream.

    The health columns are filled by the sync: when it last heard from the peer, how far behind
    it is, the errors in a row, and until when it is quarantined after too many."""

    __tablename__ = "exchange_peer"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    level: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500))
    relation: Mapped[str] = mapped_column(String(16), doc="upstream | downstream")
    status: Mapped[str] = mapped_column(
        String(24), doc="applied | under_assessment | admitted | rejected | suspended | revoked"
    )
    identity: Mapped[dict[str, Any]] = mapped_column(doc="the signed identity document as imported")
    identity_issued_at: Mapped[datetime]
    assessment: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    assessment_at: Mapped[datetime | None] = mapped_column(default=None)
    status_reason: Mapped[str | None] = mapped_column(String(1000), default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_contact_at: Mapped[datetime | None] = mapped_column(default=None)
    last_sync_at: Mapped[datetime | None] = mapped_column(default=None)
    lag_seconds: Mapped[int | None] = mapped_column(default=None)
    error_count: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)
    quarantined_until: Mapped[datetime | None] = mapped_column(default=None)


class AdmissionReview(Base):
    """One decision on a peer (admit, reject, suspend, reinstate, revoke), with the operator's
    reasons and the automated checks' findings at that moment."""

    __tablename__ = "exchange_admission_review"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("exchange_peer.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(String(1000), default="")
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    reviewed_by: Mapped[str] = mapped_column(String(64))
    reviewed_at: Mapped[datetime]
