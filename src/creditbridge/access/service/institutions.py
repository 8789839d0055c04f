"""Institutions: admission (application, security assessment, transitions) and lookups."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from creditbridge.access import domain
from creditbridge.access.models import Institution
from creditbridge.access.service._common import audit
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.errors import InvalidTransition, Issue, NotFound, ValidationFailed
from creditbridge.reference import divisions


def count_institutions(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Institution)) or 0


INSTITUTION_SORTS: Final = ("code", "name", "kind", "status", "division_code", "created_at")


def _institution_filter(
    query: Any,
    *,
    kind: str | None,
    status: str | None,
    region: str | None,
    search: str | None,
) -> Any:
    if kind:
        query = query.where(Institution.kind == kind)
    if status:
        query = query.where(Institution.status == status)
    if region:
        # A province or city lists what lies within it (divisions.division_covers, by prefix).
        prefix = divisions.division_prefix(region) or ""
        query = query.where(Institution.division_code.startswith(prefix, autoescape=True))
    if search:
        query = query.where(
            or_(
                Institution.name.contains(search, autoescape=True),
                Institution.code.contains(search, autoescape=True),
            )
        )
    return query


def find_institutions(
    session: Session,
    *,
    kind: str | None = None,
    status: str | None = None,
    region: str | None = None,
    search: str | None = None,
    sort: str = "code",
    descending: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[Institution]:
    """The admission desk's list: filtered by kind, status, region (a GB/T 2260 code: itself and
    what lies within) and a piece of the name or code; sorted on one of
    :data:`INSTITUTION_SORTS` (then by code, so pages never overlap)."""
    column = getattr(Institution, sort if sort in INSTITUTION_SORTS else "code")
    query = _institution_filter(
        select(Institution), kind=kind, status=status, region=region, search=search
    )
    query = query.order_by(column.desc() if descending else column.asc(), Institution.code)
    query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def count_matching_institutions(
    session: Session,
    *,
    kind: str | None = None,
    status: str | None = None,
    region: str | None = None,
    search: str | None = None,
) -> int:
    query = _institution_filter(
        select(func.count()).select_from(Institution),
        kind=kind,
        status=status,
        region=region,
        search=search,
    )
    return int(session.scalar(query) or 0)


def list_institutions(session: Session, *, status: str | None = None) -> list[Institution]:
    query = select(Institution).order_by(Institution.code)
    if status:
        query = query.where(Institution.status == status)
    return list(session.scalars(query))


def get_institution_by_code(session: Session, code: str) -> Institution | None:
    return session.scalar(select(Institution).where(Institution.code == code))


def get_institution(session: Session, institution_id: int) -> Institution | None:
    """The institution by id, whatever the actor: for other domains' use cases (consent
    receipts) that have already checked who may see it."""
    return session.get(Institution, institution_id)


def institution_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """The name of each institution id, in one query."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(Institution.id, Institution.name).where(Institution.id.in_(wanted))
    )
    return {row.id: row.name for row in rows}


def access_institution(session: Session, actor: Actor, institution_id: int) -> Institution:
    """The institution if the actor may see it: operators and admins see all, an officer its own."""
    institution = session.get(Institution, institution_id)
    visible = institution is not None and (
        actor.has_role(Role.OPERATOR, Role.SECURITY_ADMIN, Role.SYSTEM_ADMIN, Role.AUDIT_ADMIN)
        or actor.kind in (ActorKind.CLI, ActorKind.SYSTEM)
        or actor.institution_id == institution_id
    )
    if institution is None or not visible:
        raise NotFound("接入机构不存在")
    return institution


def apply_institution(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    kind: str,
    division_code: str,
    uscc: str | None = None,
) -> Institution:
    """An institution's application for admission (state ``applied``)."""
    issues = []
    code, name = code.strip(), name.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{2,64}", code):
        issues.append(Issue("invalid", "机构代码为 2–64 位字母、数字或 _ . -", field="code"))
    if not name or len(name) > 200:
        issues.append(Issue("invalid", "机构名称不能为空且不超过 200 字", field="name"))
    if kind not in domain.INSTITUTION_KINDS:
        issues.append(Issue("invalid", "机构类型不在允许范围内", field="kind", value=kind))
    if not re.fullmatch(r"\d{6}", division_code):
        issues.append(Issue("invalid", "行政区划代码为 6 位数字", field="division_code"))
    if issues:
        raise ValidationFailed("机构申请信息有误", issues=issues)
    if get_institution_by_code(session, code) is not None:
        raise ValidationFailed(
            "机构代码已存在", issues=[Issue("duplicate", "机构代码已存在", field="code")]
        )
    now = utc_now()
    institution = Institution(
        code=code,
        name=name,
        kind=kind,
        uscc=uscc or None,
        division_code=division_code,
        status="applied",
        assessment={},
        status_changed_at=now,
        created_at=now,
    )
    session.add(institution)
    session.flush()
    audit(
        session,
        actor,
        action="institution.apply",
        object_type="institution",
        object_id=institution.id,
        detail={"code": code, "kind": kind},
    )
    return institution


def check_assessment_item(
    session: Session, actor: Actor, *, institution_id: int, item: str, checked: bool, note: str
) -> Institution:
    """Record one item of the security assessment (only while ``assessing``)."""
    institution = access_institution(session, actor, institution_id)
    if item not in domain.ASSESSMENT_ITEMS:
        raise ValidationFailed(
            "评估项不存在", issues=[Issue("invalid", "评估项不存在", field="item")]
        )
    if institution.status != "assessing":
        raise InvalidTransition("只有评估中的机构可以记录安全评估结果")
    if len(note) > 500:
        raise ValidationFailed(
            "说明过长", issues=[Issue("too_long", "说明不超过 500 字", field="note")]
        )
    assessment = dict(institution.assessment or {})
    assessment[item] = {
        "checked": checked,
        "note": note,
        "by": actor.name,
        "at": utc_now().isoformat(),
    }
    # A new dict, so the JSON column is seen as changed.
    institution.assessment = assessment
    session.flush()
    audit(
        session,
        actor,
        action="institution.assess",
        object_type="institution",
        object_id=institution.id,
        detail={"item": item, "checked": checked, "note": note},
    )
    return institution


def transition_institution(
    session: Session, actor: Actor, *, institution_id: int, target: str, reason: str = ""
) -> Institution:
    """Move an institution along the admission workflow (:data:`domain.TRANSITIONS`).

    Suspension and revocation bite on the very next request: sessions and API clients check the
    institution's status on every request (see :func:`resolve_session`, :func:`authenticate_request`).
    """
    institution = access_institution(session, actor, institution_id)
    if not domain.can_transition(institution.status, target):
        raise InvalidTransition(f"接入机构不能从“{institution.status}”变为“{target}”")
    if target == "approved" and institution.status == "assessing":
        missing = domain.missing_assessment_items(institution.assessment)
        if missing:
            raise InvalidTransition(
                "安全评估尚未完成：" + "、".join(domain.ASSESSMENT_ITEMS[i] for i in missing)
            )
    if len(reason) > 500:
        raise ValidationFailed(
            "原因过长", issues=[Issue("too_long", "原因不超过 500 字", field="reason")]
        )
    previous = institution.status
    institution.status = target
    institution.status_reason = reason or None
    institution.status_changed_at = utc_now()
    session.flush()
    audit(
        session,
        actor,
        action=f"institution.{target}",
        object_type="institution",
        object_id=institution.id,
        detail={"from": previous, "to": target, "reason": reason},
    )
    return institution
