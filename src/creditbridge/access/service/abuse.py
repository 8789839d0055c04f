"""Abuse detection over data reads: hourly tallies, flags to the security admin, throttling."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Insert, Integer, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from creditbridge.access.errors import RateLimited
from creditbridge.access.models import AbuseFlag, Institution, ReadTally
from creditbridge.access.service._common import audit, require
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings, get_settings
from creditbridge.core.errors import InvalidTransition, Issue, NotFound, ValidationFailed


def ensure_not_throttled(session: Session, actor: Actor) -> None:
    """Raise RateLimited when the actor's institution is throttled by abuse detection."""
    if actor.institution_id is None:
        return
    until = session.scalar(
        select(Institution.throttled_until).where(Institution.id == actor.institution_id)
    )
    now = utc_now()
    if until is not None and until > now:
        raise RateLimited(
            "该机构的数据查询已被临时限制，请联系平台安全管理员",
            retry_after=int((until - now).total_seconds()),
        )


def note_data_read(
    session: Session,
    actor: Actor,
    *,
    subject_id: int,
    refused: bool,
    settings: Settings | None = None,
) -> None:
    """Count one read of an enterprise's data by an institution (``refused``: it had no valid
    consent). Flags the institution to the security admin, and throttles it, when in one hour it
    is refused more than ``abuse_refusals_per_hour`` times, or reads more than
    ``abuse_volume_factor`` times its usual hourly volume (and at least ``abuse_volume_floor``).

    Counters are per institution and hour (one row upserted), never per read: the audit trail
    already holds every read; this only needs the rates. The tally row is written with core SQL,
    so an ORM-loaded ReadTally in the same session is not refreshed by it. A caller that wants
    the upsert in the same round trip as its own writes uses :func:`tally_statement` and
    :func:`check_tally` instead. ``settings`` holds the thresholds (see :func:`_thresholds`).
    """
    tally = tally_statement(session, actor, refused=refused)
    if tally is None:
        return
    statement, values = tally
    reads, refusals = session.connection().execute(statement, values).one()
    check_tally(session, actor, reads=reads, refusals=refusals, settings=settings)


def _thresholds(settings: Settings | None) -> Settings:
    # The one read of the process's settings left in access: consent's read path (records,
    # reports, scores) does not yet carry its entry point's settings down to the tally.
    return settings if settings is not None else get_settings()


@lru_cache(maxsize=2)
def _tally_upsert(dialect: str) -> Insert:
    """The atomic UPSERT of an hour's counters, built once per store (bound parameters)."""
    build = postgresql_insert if dialect == "postgresql" else sqlite_insert
    refusal = bindparam("tally_refusal", type_=Integer())
    upsert = build(ReadTally).values(
        institution_id=bindparam("tally_institution"),
        hour_start=bindparam("tally_hour"),
        reads=1,
        refusals=refusal,
    )
    return upsert.on_conflict_do_update(
        index_elements=[ReadTally.institution_id, ReadTally.hour_start],
        set_={"reads": ReadTally.reads + 1, "refusals": ReadTally.refusals + refusal},
    ).returning(ReadTally.reads, ReadTally.refusals)


def tally_statement(
    session: Session, actor: Actor, *, refused: bool
) -> tuple[Insert, dict[str, Any]] | None:
    """The atomic UPSERT of this hour's counters, returning ``(reads, refusals)`` after it, and
    its parameters; None for an actor of no institution. Concurrent reads cannot lose an
    increment."""
    if actor.institution_id is None:
        return None
    return _tally_upsert(session.get_bind().dialect.name), {
        "tally_institution": actor.institution_id,
        "tally_hour": utc_now().replace(minute=0, second=0, microsecond=0),
        "tally_refusal": 1 if refused else 0,
    }


def check_tally(
    session: Session,
    actor: Actor,
    *,
    reads: int,
    refusals: int,
    settings: Settings | None = None,
) -> None:
    """Flag and throttle on this hour's counters (see :func:`note_data_read`)."""
    if actor.institution_id is None:
        return
    limits = _thresholds(settings)
    hour = utc_now().replace(minute=0, second=0, microsecond=0)
    if refusals >= limits.abuse_refusals_per_hour:
        _flag(
            session,
            actor.institution_id,
            "refusals",
            hour,
            refusals,
            limits.abuse_refusals_per_hour,
            limits,
        )
    # The volume threshold is never below the floor, so under it the 7-day sum (a range scan
    # on every read otherwise) cannot change the outcome and is not queried.
    if reads <= limits.abuse_volume_floor:
        return
    past = (
        session.scalar(
            select(func.coalesce(func.sum(ReadTally.reads), 0)).where(
                ReadTally.institution_id == actor.institution_id,
                ReadTally.hour_start >= hour - timedelta(days=7),
                ReadTally.hour_start < hour,
            )
        )
        or 0
    )
    usual = int(past) / (7 * 24)
    threshold = max(limits.abuse_volume_floor, int(limits.abuse_volume_factor * usual))
    if reads > threshold:
        _flag(session, actor.institution_id, "volume", hour, reads, threshold, limits)


def _flag(
    session: Session,
    institution_id: int,
    kind: str,
    hour: datetime,
    observed: int,
    threshold: int,
    settings: Settings,
) -> None:
    exists = session.scalar(
        select(AbuseFlag.id).where(
            AbuseFlag.institution_id == institution_id,
            AbuseFlag.kind == kind,
            AbuseFlag.hour_start == hour,
        )
    )
    if exists is not None:
        return
    now = utc_now()
    flag = AbuseFlag(
        institution_id=institution_id,
        kind=kind,
        hour_start=hour,
        observed=observed,
        threshold=threshold,
        status="open",
        created_at=now,
    )
    session.add(flag)
    institution = session.get(Institution, institution_id)
    if institution is not None:
        institution.throttled_until = now + timedelta(minutes=settings.abuse_throttle_minutes)
    session.flush()
    system = Actor(kind=ActorKind.SYSTEM, id=None, name="abuse-detection")
    audit(
        session,
        system,
        action="institution.flag",
        object_type="institution",
        object_id=institution_id,
        detail={"kind": kind, "observed": observed, "threshold": threshold},
    )


def list_flags(session: Session, actor: Actor, *, status: str | None = "open") -> list[AbuseFlag]:
    require(actor, Role.SECURITY_ADMIN, what="查看异常标记")
    query = select(AbuseFlag).order_by(AbuseFlag.created_at.desc())
    if status:
        query = query.where(AbuseFlag.status == status)
    return list(session.scalars(query))


def resolve_flag(
    session: Session, actor: Actor, *, flag_id: int, note: str, lift: bool
) -> AbuseFlag:
    """The security admin closes a flag; ``lift`` ends the institution's throttle now."""
    require(actor, Role.SECURITY_ADMIN, what="处理异常标记")
    flag = session.get(AbuseFlag, flag_id)
    if flag is None:
        raise NotFound("异常标记不存在")
    if flag.status != "open":
        raise InvalidTransition("该标记已处理")
    if len(note) > 500:
        raise ValidationFailed(
            "说明过长", issues=[Issue("too_long", "说明不超过 500 字", field="note")]
        )
    flag.status = "resolved"
    flag.note = note
    flag.resolved_by = actor.name
    flag.resolved_at = utc_now()
    if lift:
        institution = session.get(Institution, flag.institution_id)
        if institution is not None:
            institution.throttled_until = None
    session.flush()
    audit(
        session,
        actor,
        action="institution.flag_resolve",
        object_type="abuse_flag",
        object_id=flag.id,
        detail={"note": note, "lift": lift},
    )
    return flag
