"""Enterprise self-registration: the legal representative is confirmed, then the account made:
active for an enterprise's first account, waiting for its colleagues' approval otherwise."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.access.errors import RegistrationRefused
from creditbridge.access.models import User
from creditbridge.access.service import attempts, binding
from creditbridge.access.service._common import audit
from creditbridge.access.service.users import check_new_account, new_user
from creditbridge.core import crypto
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.config import Settings
from creditbridge.core.errors import Issue, ValidationFailed
from creditbridge.protection import service as protection
from creditbridge.subjects import service as subjects_service


def verify_legal_representative(
    session: Session, *, uscc: str, name: str, id_tail: str
) -> int | None:
    """The subject's id when ``name`` is its legal representative and ``id_tail`` the last six
    characters of that person's identity number, per the registration records; else None.

    Reads the subject and its ``legal_rep_identity`` record directly: registration happens before
    the enterprise has any actor that subjects' consent-filtered reads would accept.
    """
    subject = subjects_service.find_subject_by_uscc(session, uscc)
    if subject is None or not name.strip() or len(id_tail.strip()) != 6:
        return None
    records = subjects_service.list_current_records(
        session,
        subject_id=subject.id,
        public_datasets=(),
        restricted_datasets=["legal_rep_identity"],
    )
    for record in records:
        # The identity number is stored SM4-GCM encrypted (level 4): compare the plaintext.
        data = protection.reveal_record(record.dataset_code, record.data or {})
        number = str(data.get("id_number") or "")
        if (
            str(data.get("person_name") or "") == name.strip()
            and len(number) >= 6
            and crypto.constant_time_equal(
                number[-6:].upper().encode(), id_tail.strip().upper().encode()
            )
        ):
            return subject.id
    return None


def register_enterprise_user(
    session: Session,
    *,
    uscc: str,
    legal_rep_name: str,
    id_tail: str,
    username: str,
    display_name: str,
    password: str,
    ip: str | None = None,
    settings: Settings,
) -> User:
    """Self-registration of an enterprise: the legal representative is confirmed first.

    Guessing is bounded (issue 21, finding 3): failed checks are counted per enterprise code and
    per client address in the database, and past the limits the request is refused with
    TooManyAttempts (429, Retry-After). Every failed check is audited. The account's own fields
    are checked before the representative, so every counted check is a real one.

    When the enterprise already has accounts the new one is ``pending``: it cannot log in until an
    active user of the enterprise, or the operator with evidence, approves it; the enterprise's
    users are told at once.
    """
    registrar = Actor(kind=ActorKind.SYSTEM, id=None, name="registration", ip=ip)
    limits = attempts.registration_limits(uscc=uscc, ip=ip, settings=settings)
    attempts.ensure_allowed(
        session, limits, actor=registrar, action="register.throttled", settings=settings
    )
    username, display_name = username.strip(), display_name.strip()
    try:
        check_new_account(session, username=username, display_name=display_name, password=password)
    except ValidationFailed as invalid:
        raise ValidationFailed(
            "注册信息有误" if invalid.message == "用户信息有误" else invalid.message,
            issues=invalid.issues,
        ) from None
    subject_id = verify_legal_representative(
        session, uscc=uscc, name=legal_rep_name, id_tail=id_tail
    )
    if subject_id is None:
        code = uscc.strip().upper()[:18]

        def audit_failure(into: Session) -> None:
            audit(
                into,
                registrar,
                action="register.failed",
                object_type="subject",
                object_id=code,
                detail={"uscc": code, "username": username, "reason": "unverified"},
            )

        record = attempts.counting(limits, audit_failure)
        record(session)
        refused = RegistrationRefused(
            "法定代表人核验未通过",
            issues=[
                Issue(
                    "unverified",
                    "统一社会信用代码、法定代表人姓名或证件号后六位不匹配",
                    field="uscc",
                )
            ],
        )
        refused.kept_on_rollback = record
        raise refused
    others = session.scalar(
        select(func.count()).select_from(User).where(User.subject_id == subject_id)
    )
    status = "pending" if others else "active"
    user = new_user(
        session,
        username=username,
        display_name=display_name,
        password=password,
        role=Role.ENTERPRISE_USER,
        subject_id=subject_id,
        status=status,
    )
    audit(
        session,
        registrar,
        action="user.register",
        object_type="user",
        object_id=user.id,
        subject_id=subject_id,
        detail={"username": user.username, "status": status},
    )
    if status == "pending":
        binding.notify_pending(session, user)
    return user
