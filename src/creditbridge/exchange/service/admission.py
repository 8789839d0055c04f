"""Admission assessment (接入评估, plan §11) and its outcomes: a city node's security
self-assessment, the automated technical checks, the operator's review (admit or reject, with
reasons), suspension, reinstatement and revocation (取消接入资格). Every decision is one
``AdmissionReview`` row and one audit event, in the caller's transaction.

A revoked or suspended peer is refused on its next request: the sync and the exchange API admit
only peers whose status is in ``domain.EXCHANGING``, read afresh for every request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit_service
from creditbridge.core.actors import Actor
from creditbridge.core.clock import local_today, utc_now
from creditbridge.core.config import Settings, get_settings
from creditbridge.core.errors import Issue
from creditbridge.exchange import domain, identity
from creditbridge.exchange.errors import AssessmentInvalid, ChecksFailed, IdentityInvalid, refusal
from creditbridge.exchange.models import AdmissionReview, Peer
from creditbridge.exchange.service._common import require_node_staff
from creditbridge.exchange.service.node import get_node_or_raise
from creditbridge.exchange.service.peers import get_peer_or_raise
from creditbridge.presentation.errors import keyed
from creditbridge.presentation.i18n import translate

MAX_REASON = 1000


@dataclass(frozen=True)
class Check:
    """One finding of the admission checks; ``blocking`` ones stop an admission."""

    reason: str
    field: str
    params: Mapping[str, object]
    blocking: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "field": self.field,
            "blocking": self.blocking,
            "message": translate("zh", f"error.exchange.check.{self.reason}", **self.params),
        }


def submit_assessment(
    session: Session, actor: Actor, *, code: str, assessment: Mapping[str, Any]
) -> Peer:
    """Store a downstream peer's security self-assessment, validated field by field (a bad one
    raises AssessmentInvalid naming the field). Opens the assessment: applied → under_assessment."""
    require_node_staff(actor)
    peer = get_peer_or_raise(session, code)
    if peer.relation != "downstream":
        raise refusal(AssessmentInvalid, "error.exchange.assessment.not_downstream", code=code)
    parsed = domain.parse_assessment(assessment, today=local_today())
    before = peer.status
    if peer.status == "applied":
        peer.status = domain.transition(peer.status, "under_assessment")
    elif peer.status != "under_assessment":
        domain.transition(peer.status, "under_assessment")  # raises: nothing left to assess
    now = utc_now()
    peer.assessment, peer.assessment_at, peer.updated_at = parsed.as_dict(), now, now
    session.flush()
    audit_service.record(
        session,
        actor,
        action="exchange.peer.assessment",
        object_type="exchange_peer",
        object_id=code,
        detail={"from": before, "to": peer.status, "assessment": parsed.as_dict()},
    )
    return peer


def run_checks(session: Session, peer: Peer, *, settings: Settings | None = None) -> list[Check]:
    """The automated checks, as they stand now: the identity document's signature verifies
    again, codes and levels fit the relation, https in production, no clock skew, and (for a
    downstream node) the self-assessment is on file and meets §11's minimums."""
    settings = settings or get_settings()
    production = settings.env == "production"
    this = get_node_or_raise(session)
    checks: list[Check] = []
    document: identity.IdentityDocument | None
    try:
        document = identity.parse(peer.identity)
    except IdentityInvalid:  # a stored document that no longer verifies: a finding, not a crash
        checks.append(Check("signature", "signature", {}))
        document = None
    issued_at = peer.identity_issued_at if document is None else document.issued_at
    for finding in domain.technical_findings(
        domain.NodeFacts(this.code, this.level, this.url),
        domain.NodeFacts(peer.code, peer.level, peer.url),
        relation=peer.relation,
        issued_at=issued_at,
        now=utc_now(),
        production=production,
    ):
        checks.append(Check(finding.reason, finding.field, dict(finding.params)))
    if peer.relation == "downstream":
        if peer.assessment is None:
            # Outside production (the demo network, tests) a node may be admitted without one;
            # the review still records that it was missing.
            checks.append(Check("no_assessment", "assessment", {}, blocking=production))
        else:
            # Parsed as it was validated when submitted; only its age is judged against today.
            stored = domain.parse_assessment(peer.assessment, today=date.max)
            for finding in domain.assessment_findings(stored, today=local_today()):
                checks.append(Check(finding.reason, finding.field, dict(finding.params)))
    return checks


def _review(
    session: Session,
    actor: Actor,
    peer: Peer,
    *,
    decision: str,
    to_status: domain.PeerStatus,
    reason: str,
    checks: list[Check],
) -> AdmissionReview:
    before = peer.status
    for step in domain.path_to_admission(before) if to_status == "admitted" else [to_status]:
        peer.status = domain.transition(peer.status, step)
    now = utc_now()
    peer.status_reason = reason or None
    peer.updated_at = now
    review = AdmissionReview(
        peer_id=peer.id,
        decision=decision,
        from_status=before,
        to_status=peer.status,
        reason=reason,
        findings=[c.as_dict() for c in checks],
        reviewed_by=actor.name,
        reviewed_at=now,
    )
    session.add(review)
    session.flush()
    audit_service.record(
        session,
        actor,
        action=f"exchange.peer.{decision}",
        object_type="exchange_peer",
        object_id=peer.code,
        detail={
            "from": before,
            "to": peer.status,
            "reason": reason,
            "findings": [c.reason for c in checks],
        },
    )
    return review


def _reason(reason: str, *, required: bool) -> str:
    text = reason.strip()
    if required and not text:
        raise refusal(AssessmentInvalid, "error.exchange.reason_required", field="reason")
    if len(text) > MAX_REASON:
        raise refusal(
            AssessmentInvalid, "error.exchange.reason_too_long", field="reason", limit=MAX_REASON
        )
    return text


def admit(
    session: Session,
    actor: Actor,
    *,
    code: str,
    reason: str = "",
    settings: Settings | None = None,
) -> AdmissionReview:
    """Admit a peer after its checks pass (from applied, under assessment or suspended); raises
    ChecksFailed with one issue per blocking finding, and admits nothing."""
    require_node_staff(actor)
    peer = get_peer_or_raise(session, code)
    text = _reason(reason, required=False)
    domain.path_to_admission(peer.status)  # an impossible move is refused before any check
    checks = run_checks(session, peer, settings=settings)
    blocking = [c for c in checks if c.blocking]
    if blocking:
        raise keyed(
            ChecksFailed,
            "error.exchange.checks_failed",
            issues=[
                Issue(
                    c.reason,
                    translate("zh", f"error.exchange.check.{c.reason}", **c.params),
                    field=c.field,
                    key=f"error.exchange.check.{c.reason}",
                    params=c.params,
                )
                for c in blocking
            ],
            code=code,
            n=len(blocking),
        )
    decision = "reinstate" if peer.status == "suspended" else "admit"
    return _review(
        session, actor, peer, decision=decision, to_status="admitted", reason=text, checks=checks
    )


def _decide(
    session: Session,
    actor: Actor,
    *,
    code: str,
    reason: str,
    decision: str,
    to_status: domain.PeerStatus,
) -> AdmissionReview:
    """A decision that needs only a reason (the state machine in ``_review`` checks the move)."""
    require_node_staff(actor)
    peer = get_peer_or_raise(session, code)
    text = _reason(reason, required=True)
    return _review(
        session, actor, peer, decision=decision, to_status=to_status, reason=text, checks=[]
    )


def reject(session: Session, actor: Actor, *, code: str, reason: str) -> AdmissionReview:
    """Refuse an application, with the reason the applicant is told."""
    return _decide(
        session, actor, code=code, reason=reason, decision="reject", to_status="rejected"
    )


def suspend(session: Session, actor: Actor, *, code: str, reason: str) -> AdmissionReview:
    """Stop exchanging with an admitted peer for a while (a fault, a pending rectification)."""
    return _decide(
        session, actor, code=code, reason=reason, decision="suspend", to_status="suspended"
    )


def revoke(session: Session, actor: Actor, *, code: str, reason: str) -> AdmissionReview:
    """取消接入资格: final; the peer is refused from its next request on, whatever its key."""
    return _decide(session, actor, code=code, reason=reason, decision="revoke", to_status="revoked")


def list_reviews(session: Session, *, code: str) -> list[AdmissionReview]:
    peer = get_peer_or_raise(session, code)
    return list(
        session.scalars(
            select(AdmissionReview)
            .where(AdmissionReview.peer_id == peer.id)
            .order_by(AdmissionReview.id)
        )
    )


def may_exchange(session: Session, *, code: str) -> bool:
    """Whether a request from peer ``code`` is served now (read afresh: a revocation takes
    effect on the very next request)."""
    status = session.scalars(select(Peer.status).where(Peer.code == code)).first()
    return status in domain.EXCHANGING
