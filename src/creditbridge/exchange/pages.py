"""The operator's pages of the node network (节点互联): this node's identity and its peers, one
peer with its keys, self-assessment and admission reviews, and the admission decisions.

Admit, reject and revoke cannot be undone (a revoked node applies again as a new peer), so each
goes through a confirmation page (a GET that changes nothing) that says what will happen and
asks for the reason; suspend and reinstate are posted from the peer's page. A refusal re-renders
the form it came from with what was typed and the message at its field. The service functions
decide who may act and audit every decision; the handlers parse, call one, and render or
redirect."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from creditbridge.core.actors import Actor, Role
from creditbridge.core.config import Settings
from creditbridge.core.errors import Conflict, DomainError, ValidationFailed
from creditbridge.exchange import domain, service
from creditbridge.presentation import i18n, listing
from creditbridge.web.auth import require_roles
from creditbridge.web.deps import ReadSession, WriteSession
from creditbridge.web.templating import language, render

router = APIRouter(include_in_schema=False)

# The platform desk's roles, as the jobs pages (the service also admits the security
# administrator, for keys at the console, but the admin roles keep their own menus).
Staff = Annotated[Actor, Depends(require_roles(Role.OPERATOR, Role.SYSTEM_ADMIN))]
Code = Annotated[str, Path(min_length=6, max_length=12, pattern=r"^[0-9]+$")]
Reason = Annotated[str, Form(max_length=2000)]
PEER_SORTS: Final = ("code", "status", "last_contact_at", "lag")  # service.views.PEER_SORTS
# Refusals a decision can meet that belong beside its form (a bad reason, failed checks, a move
# the workflow does not allow); others (an unknown peer) are the error page's.
REFUSALS: Final = (ValidationFailed, Conflict)


class Move(StrEnum):
    ADMIT = "admit"
    REJECT = "reject"
    REVOKE = "revoke"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"


CONFIRMED: Final = (Move.ADMIT, Move.REJECT, Move.REVOKE)
"""The irreversible moves, taken only from their confirmation page."""
NEEDS_REASON: Final = (Move.REJECT, Move.REVOKE, Move.SUSPEND)
# Which moves a status offers (the workflow's transitions; reinstate is admit from suspended).
OFFERED: Final[dict[str, tuple[Move, ...]]] = {
    "applied": (Move.ADMIT, Move.REJECT),
    "under_assessment": (Move.ADMIT, Move.REJECT),
    "admitted": (Move.SUSPEND, Move.REVOKE),
    "suspended": (Move.REINSTATE, Move.REVOKE),
}
ConfirmMove = Annotated[str, Path(pattern="^(admit|reject|revoke)$")]
AnyMove = Annotated[str, Path(pattern="^(admit|reject|revoke|suspend|reinstate)$")]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _field_errors(refused: DomainError | None) -> dict[str, list[object]]:
    """The refusal's issues by field, for the inputs that have one."""
    errors: dict[str, list[object]] = {}
    for issue in refused.issues if refused is not None else []:
        if issue.field:
            errors.setdefault(issue.field, []).append(issue)
    return errors


# --- This node and its peers --------------------------------------------------------------------


@router.get("/operator/node", name="exchange:node")
def node(request: Request, session: ReadSession, actor: Staff) -> HTMLResponse:
    query = listing.parse_list_query(
        request.query_params,
        sortable=PEER_SORTS,
        default_sort="code",
        filters=("status", "relation"),
    )
    overview = service.node_overview(session, actor)
    sort = query.sort or listing.Sort("code")
    rows, total = service.search_peers(
        session,
        actor,
        status=query.filter("status"),
        relation=query.filter("relation"),
        sort=sort.column,
        descending=sort.descending,
        offset=query.offset,
        limit=query.size,
    )
    return render(
        request,
        "exchange/node.html",
        overview=overview,
        peers=listing.Page(rows, total, query.page, query.size),
        sort=sort,
        status=query.filter("status") or "",
        relation=query.filter("relation") or "",
        statuses=domain.PEER_STATUSES,
        relations=domain.RELATIONS,
    )


@router.post("/operator/node/identity", name="exchange:identity")
def identity_download(session: WriteSession, actor: Staff) -> Response:
    """The signed identity document, freshly signed (a POST: signing it is audited)."""
    document = service.identity_document(session, actor)
    body = json.dumps(document.as_dict(), ensure_ascii=False, indent=2)
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="node-{document.code}-identity.json"'
        },
    )


# --- One peer -----------------------------------------------------------------------------------


def _peer_page(
    request: Request,
    session: Session,
    actor: Actor,
    code: str,
    *,
    checks: list[service.Check] | None = None,
    move: str = "",
    values: dict[str, str] | None = None,
    refused: DomainError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    view = service.peer_view(session, actor, code)
    done = request.query_params.get("done", "")
    return render(
        request,
        "exchange/peer.html",
        status_code=status_code,
        view=view,
        peer=view.peer,
        offered=OFFERED.get(view.peer.status, ()),
        confirmed=CONFIRMED,
        checks=checks,
        move=move,
        values=values or {},
        refusal=refused if refused is not None and not _field_errors(refused) else None,
        errors=_field_errors(refused),
        notice=(
            i18n.translate(language(request), f"node.done.{done}")
            if done in {m.value for m in Move}
            else None
        ),
    )


@router.get("/operator/node/peers/{code}", name="exchange:peer")
def peer(request: Request, session: ReadSession, actor: Staff, code: Code) -> HTMLResponse:
    return _peer_page(request, session, actor, code)


@router.post("/operator/node/peers/{code}/checks", name="exchange:checks")
def checks(request: Request, session: ReadSession, actor: Staff, code: Code) -> HTMLResponse:
    """The automated admission checks as they stand now; they change nothing."""
    view = service.peer_view(session, actor, code)
    found = service.run_checks(session, view.peer, settings=_settings(request))
    return _peer_page(request, session, actor, code, checks=found)


def _confirm_page(
    request: Request,
    session: Session,
    actor: Actor,
    code: str,
    move: Move,
    *,
    reason: str = "",
    refused: DomainError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    view = service.peer_view(session, actor, code)
    return render(
        request,
        "exchange/confirm.html",
        status_code=status_code,
        peer=view.peer,
        move=move.value,
        needs_reason=move in NEEDS_REASON,
        reason=reason,
        action=request.url_for("exchange:move", code=code, move=move.value).path,
        back=request.url_for("exchange:peer", code=code).path,
        refusal=refused,
        errors=_field_errors(refused),
    )


@router.get("/operator/node/peers/{code}/{move}/confirm", name="exchange:confirm")
def confirm(
    request: Request,
    session: ReadSession,
    actor: Staff,
    code: Code,
    move: ConfirmMove,
    reason: Annotated[str, Query(max_length=2000)] = "",
) -> HTMLResponse:
    return _confirm_page(request, session, actor, code, Move(move), reason=reason)


def _decide(
    request: Request, session: Session, actor: Actor, code: str, move: Move, reason: str
) -> None:
    if move in (Move.ADMIT, Move.REINSTATE):
        service.admit(session, actor, code=code, reason=reason, settings=_settings(request))
    elif move is Move.REJECT:
        service.reject(session, actor, code=code, reason=reason)
    elif move is Move.SUSPEND:
        service.suspend(session, actor, code=code, reason=reason)
    else:
        service.revoke(session, actor, code=code, reason=reason)


@router.post("/operator/node/peers/{code}/{move}", name="exchange:move")
def move(
    request: Request,
    session: WriteSession,
    actor: Staff,
    code: Code,
    move: AnyMove,
    reason: Reason = "",
) -> Response:
    which = Move(move)
    try:
        _decide(request, session, actor, code, which, reason)
    except REFUSALS as refused:
        # Nothing of the refused decision is kept; the form comes back with what was typed.
        session.rollback()
        status_code = 409 if isinstance(refused, Conflict) else 422
        if which in CONFIRMED:
            return _confirm_page(
                request,
                session,
                actor,
                code,
                which,
                reason=reason,
                refused=refused,
                status_code=status_code,
            )
        return _peer_page(
            request,
            session,
            actor,
            code,
            move=which.value,
            values={"reason": reason},
            refused=refused,
            status_code=status_code,
        )
    path = request.url_for("exchange:peer", code=code).path
    return RedirectResponse(f"{path}?done={which.value}", status_code=303)
