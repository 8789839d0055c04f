"""Institution admission: the transition map, the assessment checklist, and an audit event per step."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.access import domain, service
from creditbridge.audit.models import AuditEvent
from creditbridge.core.actors import CONSOLE, Actor, ActorKind, Role
from creditbridge.core.errors import InvalidTransition, NotFound, ValidationFailed

from .conftest import make_institution, make_user

OPERATOR = Actor(kind=ActorKind.USER, id=999_001, name="op", role=Role.OPERATOR)


def _apply(session: Session, code: str = "bank-x") -> int:
    return service.apply_institution(
        session, OPERATOR, code=code, name="新银行", kind="bank", division_code="340100"
    ).id


def test_admission_walks_applied_assessing_approved_and_audits_each_step(session: Session) -> None:
    institution_id = _apply(session)
    service.transition_institution(
        session, OPERATOR, institution_id=institution_id, target="assessing"
    )
    for item in domain.ASSESSMENT_ITEMS:
        service.check_assessment_item(
            session, OPERATOR, institution_id=institution_id, item=item, checked=True, note="已核验"
        )
    approved = service.transition_institution(
        session, OPERATOR, institution_id=institution_id, target="approved"
    )
    assert approved.status == "approved"
    actions = session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.object_type == "institution", AuditEvent.object_id == str(institution_id))
        .order_by(AuditEvent.sequence)
    ).all()
    assert actions[0] == "institution.apply"
    assert actions[1] == "institution.assessing"
    assert actions.count("institution.assess") == len(domain.ASSESSMENT_ITEMS)
    assert actions[-1] == "institution.approved"


def test_approval_needs_every_assessment_item(session: Session) -> None:
    institution_id = _apply(session)
    service.transition_institution(
        session, OPERATOR, institution_id=institution_id, target="assessing"
    )
    service.check_assessment_item(
        session, OPERATOR, institution_id=institution_id, item="licence", checked=True, note=""
    )
    with pytest.raises(InvalidTransition, match="安全评估尚未完成"):
        service.transition_institution(
            session, OPERATOR, institution_id=institution_id, target="approved"
        )


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("applied", "approved"),
        ("applied", "suspended"),
        ("revoked", "approved"),
        ("approved", "assessing"),
        ("suspended", "assessing"),
        ("approved", "approved"),
    ],
)
def test_illegal_moves_raise_invalid_transition(session: Session, start: str, target: str) -> None:
    institution = make_institution(session, status=start)
    with pytest.raises(InvalidTransition):
        service.transition_institution(
            session, OPERATOR, institution_id=institution.id, target=target
        )


def test_suspension_is_reversible_and_revocation_final(session: Session) -> None:
    institution = make_institution(session)
    service.transition_institution(
        session, CONSOLE, institution_id=institution.id, target="suspended", reason="逾期未整改"
    )
    service.transition_institution(
        session, CONSOLE, institution_id=institution.id, target="approved"
    )
    service.transition_institution(
        session, CONSOLE, institution_id=institution.id, target="revoked"
    )
    assert domain.TRANSITIONS["revoked"] == frozenset()


def test_officer_cannot_see_another_institution(session: Session) -> None:
    mine, other = make_institution(session), make_institution(session)
    user, _ = make_user(session, Role.INSTITUTION_OFFICER, institution=mine)
    actor = service.actor_for_user(user)
    assert service.access_institution(session, actor, mine.id) is mine
    with pytest.raises(NotFound):
        service.access_institution(session, actor, other.id)


@pytest.mark.parametrize(
    "text",
    ["'; DROP TABLE access_institution; --", "<script>alert(1)</script>", "银行' OR '1'='1"],
)
def test_injection_strings_are_stored_as_text(session: Session, text: str) -> None:
    institution = service.apply_institution(
        session, OPERATOR, code="inj-1", name=text, kind="bank", division_code="340100"
    )
    session.expire_all()
    assert service.get_institution_by_code(session, "inj-1").name == text  # type: ignore[union-attr]
    with pytest.raises(ValidationFailed):
        service.apply_institution(
            session, OPERATOR, code=text, name="x", kind="bank", division_code="340100"
        )
    assert institution.id
