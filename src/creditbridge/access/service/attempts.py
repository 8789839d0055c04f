"""Counted attempts: failed registration checks per enterprise code and per client address, and
failed logins per address, limited in a sliding window (issue 21, finding 3).

The counts live in the database, not in a worker's memory, so the limits hold across every
worker process of the node. Only failures are counted: a refused attempt (over the limit) raises
and is rolled back, so an attacker who keeps trying does not push the window further out, and the
legitimate user's wait is bounded by the window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from creditbridge.access import domain
from creditbridge.access.errors import TooManyAttempts
from creditbridge.access.models import Attempt
from creditbridge.access.service._common import audit
from creditbridge.core.actors import Actor
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings

REGISTER_CODE: Final = "register_code"
REGISTER_ADDRESS: Final = "register_address"
LOGIN_ADDRESS: Final = "login_address"


@dataclass(frozen=True)
class Limit:
    scope: str
    key: str
    allowed: int


def _window(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.attempt_window_minutes)


def registration_limits(*, uscc: str, ip: str | None, settings: Settings) -> list[Limit]:
    limits = [Limit(REGISTER_CODE, uscc.strip().upper()[:128], settings.register_attempts_per_code)]
    if ip:
        limits.append(Limit(REGISTER_ADDRESS, ip[:128], settings.register_attempts_per_address))
    return limits


def login_limits(*, ip: str | None, settings: Settings) -> list[Limit]:
    return [Limit(LOGIN_ADDRESS, ip[:128], settings.login_failures_per_address)] if ip else []


def retry_after(session: Session, limit: Limit, *, settings: Settings) -> int | None:
    """Seconds until ``limit`` allows one more attempt, or None when it allows one now."""
    now = utc_now()
    window = _window(settings)
    times = session.scalars(
        select(Attempt.at)
        .where(Attempt.scope == limit.scope, Attempt.key == limit.key, Attempt.at > now - window)
        .order_by(Attempt.at)
    ).all()
    return domain.retry_after_seconds(
        [(now - at).total_seconds() for at in times],
        limit=limit.allowed,
        window_seconds=int(window.total_seconds()),
    )


def ensure_allowed(
    session: Session, limits: list[Limit], *, actor: Actor, action: str, settings: Settings
) -> None:
    """Raise TooManyAttempts (429, Retry-After) when any limit is used up; the refusal is audited,
    and its event kept although the request rolls back."""
    for limit in limits:
        wait = retry_after(session, limit, settings=settings)
        if wait is None:
            continue

        def record(into: Session, limit: Limit = limit) -> None:
            audit(
                into,
                actor,
                action=action,
                object_type="attempt",
                object_id=limit.key,
                detail={"scope": limit.scope, "allowed": limit.allowed},
            )

        record(session)
        minutes = max(1, (wait + 59) // 60)
        refused = TooManyAttempts(
            f"尝试次数过多，请 {minutes} 分钟后再试",
            key="access.too_many_attempts",
            params={"minutes": minutes},
            retry_after=wait,
        )
        refused.kept_on_rollback = record
        raise refused


def count_failure(session: Session, limits: list[Limit]) -> None:
    """Count one failed attempt under each limit's key."""
    now = utc_now()
    session.add_all(Attempt(scope=limit.scope, key=limit.key, at=now) for limit in limits)
    session.flush()


def counting(limits: list[Limit], then: Callable[[Session], None]) -> Callable[[Session], None]:
    """A writer for ``kept_on_rollback``: counts the failure, then writes ``then``'s records."""

    def write(session: Session) -> None:
        count_failure(session, limits)
        then(session)

    return write


def clean_attempts(session: Session, *, settings: Settings) -> int:
    """Delete attempts older than the window: they no longer count."""
    result = session.execute(delete(Attempt).where(Attempt.at < utc_now() - _window(settings)))
    return int(getattr(result, "rowcount", 0) or 0)
