"""Request dependencies: the database session of a request, read-only or writing.

One transaction per request, opened here (the entry point), never by services.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker


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
    """
    with _factory(request)() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        else:
            session.commit()


ReadSession = Annotated[Session, Depends(get_read_session)]
WriteSession = Annotated[Session, Depends(get_write_session, scope="function")]


@contextmanager
def commit_on(session: Session, *errors: type[BaseException]) -> Iterator[None]:
    """Commit what the block wrote when it raises one of ``errors``, then let the error go on.

    For refusals that must stay on record although the request fails: a refused read writes
    its audit event and abuse tally before raising (``consent.service.read_records``), and
    :func:`get_write_session` would roll them back with the rest of a failed request.
    """
    try:
        yield
    except errors:
        session.commit()
        raise
