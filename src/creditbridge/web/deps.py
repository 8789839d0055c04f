"""Request dependencies: the database session of a request, read-only or writing.

One transaction per request, opened here (the entry point), never by services.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


def _factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    return factory


def get_read_session(request: Request) -> Iterator[Session]:
    """A session for a page or API call that changes nothing; whatever it did is rolled back.

    It stays open until the response has been sent (FastAPI's default "request" scope) so that a
    response model can still read loaded attributes while it is serialised.
    """
    with _factory(request)() as session:
        try:
            yield session
        finally:
            session.rollback()


def get_write_session(request: Request) -> Iterator[Session]:
    """A session whose transaction commits when the handler returns and rolls back when it raises.

    Used with ``scope="function"`` (see :data:`WriteSession`): the commit then runs before the
    response is sent, so a commit that fails (a constraint checked at flush, a lost connection)
    becomes an error response instead of a 200 for a change that was never stored.

    An error that must stay on record although the request fails — a refused read's audit event
    and tally (``consent.errors.RefusalOnRecord``), a wrong password's lockout count
    (``access.errors.PasswordChangeRefused``) — carries ``kept_on_rollback``: after the rollback
    it is called and its writes alone are committed.
    """
    with _factory(request)() as session:
        try:
            yield session
        except BaseException as error:
            session.rollback()
            _write_kept(session, error)
            raise
        else:
            session.commit()


ReadSession = Annotated[Session, Depends(get_read_session)]
WriteSession = Annotated[Session, Depends(get_write_session, scope="function")]


def _write_kept(session: Session, error: BaseException) -> None:
    write: Callable[[Session], None] | None = getattr(error, "kept_on_rollback", None)
    if write is None:
        return
    try:
        write(session)
        session.commit()
    except Exception:
        # The request's own error still goes out; the lost record is for the operator's log.
        session.rollback()
        log.exception("could not keep the record of a failed request (%s)", type(error).__name__)
