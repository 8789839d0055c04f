"""Institutions (接入机构), users, login sessions, API clients and the records that protect them:
used nonces, rate-limit windows, data-read tallies and abuse flags; invitations that bind an account
to an enterprise or institution, notices to an organisation's users, counted login and registration
attempts, and changes among the administrators awaiting a second administrator."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from creditbridge.core.db import Base, BigId


class Institution(Base):
    __tablename__ = "access_institution"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(
        String(24), doc="bank | guarantor | insurer | credit_agency | city_platform"
    )
    uscc: Mapped[str | None] = mapped_column(String(18))
    division_code: Mapped[str] = mapped_column(String(6), index=True)
    status: Mapped[str] = mapped_column(
        String(16),
        default="approved",
        doc="applied | assessing | approved | suspended | revoked (see access.domain)",
    )
    assessment: Mapped[dict[str, Any] | None] = mapped_column(
        doc="security assessment checklist: {item: {checked, note, by, at}}"
    )
    status_reason: Mapped[str | None] = mapped_column(String(500))
    status_changed_at: Mapped[datetime | None]
    throttled_until: Mapped[datetime | None] = mapped_column(
        doc="set by abuse detection; data reads and API calls are refused until then"
    )
    created_at: Mapped[datetime]


class User(Base):
    """A person who logs in to the pages. One user holds exactly one role (三员分立)."""

    __tablename__ = "access_user"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32), index=True)
    institution_id: Mapped[int | None] = mapped_column(
        ForeignKey("access_institution.id"), index=True
    )
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_provider.id"), index=True)
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id"), index=True)
    status: Mapped[str] = mapped_column(
        String(16),
        default="active",
        doc="active | disabled | pending (a registration awaiting the enterprise's approval)",
    )
    division_code: Mapped[str | None] = mapped_column(
        String(12),
        index=True,
        doc="an operator's division (GB/T 2260 province, city or county code); "
        "None: the whole node. Only operators carry one.",
    )
    org_admin: Mapped[bool] = mapped_column(
        default=False,
        server_default=text("false"),
        doc="an officer who administers its institution's accounts: invites colleagues",
    )
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret_enc: Mapped[bytes | None] = mapped_column(
        LargeBinary, doc="SM4-GCM token of the base32 TOTP secret (GB/T 39786 §8.4 e)"
    )
    totp_enabled: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    totp_last_step: Mapped[int | None] = mapped_column(
        BigId, doc="the last accepted TOTP time step; a code is never accepted twice"
    )
    failed_logins: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class LoginSession(Base):
    """A server-side login session; the cookie carries a random token, we keep only its SM3."""

    __tablename__ = "access_session"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("access_user.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    mfa_passed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(doc="absolute expiry")
    ended_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))


class ApiClient(Base):
    """A system of an institution, provider or node that calls the API with signed requests."""

    __tablename__ = "access_api_client"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_kind: Mapped[str] = mapped_column(String(16), doc="institution | provider | node")
    institution_id: Mapped[int | None] = mapped_column(
        ForeignKey("access_institution.id"), index=True
    )
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_provider.id"), index=True)
    node_code: Mapped[str | None] = mapped_column(String(12))
    algorithm: Mapped[str] = mapped_column(String(16), doc="sm2 | hmac-sm3")
    public_key_pem: Mapped[str | None] = mapped_column(Text)
    secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="active", doc="active | suspended")
    rate_limit_per_minute: Mapped[int] = mapped_column(default=600)
    created_at: Mapped[datetime]


class ApiNonce(Base):
    """Nonces already accepted, kept longer than the clock-skew window so none is accepted twice."""

    __tablename__ = "access_api_nonce"
    __table_args__ = (UniqueConstraint("key_id", "nonce"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(128))
    seen_at: Mapped[datetime] = mapped_column(index=True)


class RateWindow(Base):
    """Requests of one API client in one fixed one-minute window (shared by all workers)."""

    __tablename__ = "access_rate_window"
    __table_args__ = (UniqueConstraint("client_id", "window_start"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("access_api_client.id"))
    window_start: Mapped[datetime] = mapped_column(index=True)
    count: Mapped[int] = mapped_column(default=0)


class ReadTally(Base):
    """Reads of enterprise data by one institution in one hour, and how many were refused."""

    __tablename__ = "access_read_tally"
    __table_args__ = (
        UniqueConstraint("institution_id", "hour_start"),
        Index("ix_access_read_tally_hour", "hour_start"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("access_institution.id"))
    hour_start: Mapped[datetime]
    reads: Mapped[int] = mapped_column(default=0)
    refusals: Mapped[int] = mapped_column(default=0)


class AbuseFlag(Base):
    """An institution flagged to the security admin for unusual reading."""

    __tablename__ = "access_abuse_flag"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("access_institution.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), doc="refusals | volume")
    hour_start: Mapped[datetime]
    observed: Mapped[int]
    threshold: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="open", doc="open | resolved")
    note: Mapped[str | None] = mapped_column(String(500))
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Invitation(Base):
    """An invitation to bind a new account to one enterprise or institution, made by a user of
    that organisation (or, for an institution's first officer-administrator, by the operator who
    admitted it). The link carries a random token; we keep only its SM3."""

    __tablename__ = "access_invitation"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32), doc="enterprise_user | institution_officer")
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id"), index=True)
    institution_id: Mapped[int | None] = mapped_column(
        ForeignKey("access_institution.id"), index=True
    )
    org_admin: Mapped[bool] = mapped_column(default=False)
    invited_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("access_user.id"))
    invited_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(
        String(16), default="pending", doc="pending | accepted | revoked"
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_user_id: Mapped[int | None] = mapped_column(ForeignKey("access_user.id"))


class Notification(Base):
    """A notice to one user about its organisation's accounts (a new account bound, a
    registration awaiting approval), shown on the user's account page."""

    __tablename__ = "access_notification"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("access_user.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32), doc="member_bound | member_pending")
    detail: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class Attempt(Base):
    """One counted attempt (a failed registration check, a failed login) under one key — the
    enterprise code or the client address — so limits hold across all workers of the node."""

    __tablename__ = "access_attempt"
    __table_args__ = (Index("ix_access_attempt_scope_key_at", "scope", "key", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scope: Mapped[str] = mapped_column(
        String(24), doc="register_code | register_address | login_address"
    )
    key: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]


class AdminChange(Base):
    """A change to an administrator's account (disable, change of role, or a grant of an admin
    role) proposed by one administrator and applied only when another approves (三员分立)."""

    __tablename__ = "access_admin_change"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    target_user_id: Mapped[int] = mapped_column(ForeignKey("access_user.id"), index=True)
    action: Mapped[str] = mapped_column(String(16), doc="disable | set_role")
    role: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(
        String(16), default="pending", doc="pending | approved | rejected"
    )
    requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("access_user.id"))
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime]
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("access_user.id"))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]
