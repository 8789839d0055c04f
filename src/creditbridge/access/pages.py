"""Pages of the trust layer: login with a second factor, enterprise registration, invitations and
approvals of an organisation's accounts (on the account page), and the admin desks — users (system
admin), roles, API clients and abuse flags (security admin), changes among administrators (a second
administrator approves), institution admission and registration review (operator). Handlers parse the form, call one service, render or redirect."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Final
from urllib.parse import urlsplit

import segno
from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from creditbridge.access import domain
from creditbridge.access import service as access_service
from creditbridge.access.errors import LoginFailed
from creditbridge.access.models import Institution, User
from creditbridge.core import types
from creditbridge.core.actors import Actor, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.core.errors import Issue, NotFound, ValidationFailed
from creditbridge.presentation import exports, i18n, listing
from creditbridge.presentation.formatting import format_datetime_short
from creditbridge.reference import divisions
from creditbridge.subjects import service as subjects_service
from creditbridge.web.auth import (
    SESSION_COOKIE,
    CurrentActor,
    clear_cookie,
    client_ip,
    queue_cookie,
    require_roles,
)
from creditbridge.web.deps import ReadSession, WriteSession
from creditbridge.web.templating import render

router = APIRouter(include_in_schema=False)

Id = Annotated[types.Id, Path()]
Text = Annotated[str, Form(max_length=500)]
OptionalText = Annotated[str, Form(max_length=500)]
NEXT_DEFAULT: Final = "/"

SystemAdmin = Annotated[Actor, Depends(require_roles(Role.SYSTEM_ADMIN))]
SecurityAdmin = Annotated[Actor, Depends(require_roles(Role.SECURITY_ADMIN))]
UserViewer = Annotated[
    Actor,
    Depends(require_roles(Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.INSTITUTION_OFFICER)),
]
Operator = Annotated[Actor, Depends(require_roles(Role.OPERATOR))]


def _safe_next(target: str | None) -> str:
    """Only a path of this site: an open redirect after login would help phishing."""
    if not target:
        return NEXT_DEFAULT
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return NEXT_DEFAULT
    return target


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# --- Login -----------------------------------------------------------------------------------


@router.get("/login", name="auth:login")
def login_form(
    request: Request, next: Annotated[str | None, Query(max_length=500)] = None
) -> HTMLResponse:
    return render(request, "access/login.html", next=_safe_next(next), error=None, username="")


@router.post("/login", name="auth:login_submit")
def login_submit(
    request: Request,
    session: WriteSession,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=500)] = NEXT_DEFAULT,
) -> Response:
    try:
        opened = access_service.login_with_password(
            session,
            username=username,
            password=password,
            ip=client_ip(request),
            settings=_settings(request),
        )
    except LoginFailed as failure:
        # Rendered, not raised: the failure count must be committed for the lockout to work.
        return render(
            request,
            "access/login.html",
            status_code=401,
            next=_safe_next(next),
            error=failure.message,
            username=username,
        )
    queue_cookie(request, SESSION_COOKIE, opened.token)
    if not opened.row.mfa_passed:
        return _redirect(request.url_for("auth:totp").path + "?next=" + _quote(_safe_next(next)))
    return _redirect(_safe_next(next))


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _qr_svg(uri: str) -> Markup:
    # Rendered here, inline: the secret must not travel to a QR web service.
    svg: str = segno.make(uri, error="m").svg_inline(scale=4, dark="#1a2b4c")
    return Markup(svg)  # noqa: S704 - segno draws modules only; the URI is not echoed as text


@router.get("/login/totp", name="auth:totp")
def totp_form(
    request: Request,
    session: WriteSession,
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    settings = _settings(request)
    pending = access_service.pending_user(
        session, request.cookies.get(SESSION_COOKIE, ""), settings=settings
    )
    if pending is None:
        return _redirect(request.url_for("auth:login").path)
    user = pending[1]
    secret = qr = None
    if not user.totp_enabled:
        secret = access_service.start_totp_enrolment(session, user, settings=settings)
        issuer = settings.node_name
        qr = _qr_svg(access_service.totp_uri(user, secret, issuer=issuer))
    return render(
        request,
        "access/totp.html",
        next=_safe_next(next),
        enrol=not user.totp_enabled,
        secret=secret,
        qr=qr,
        error=None,
    )


@router.post("/login/totp", name="auth:totp_submit")
def totp_submit(
    request: Request,
    session: WriteSession,
    code: Annotated[str, Form(max_length=16)],
    next: Annotated[str, Form(max_length=500)] = NEXT_DEFAULT,
) -> Response:
    try:
        opened = access_service.verify_second_factor(
            session,
            token=request.cookies.get(SESSION_COOKIE, ""),
            code=code,
            ip=client_ip(request),
            settings=_settings(request),
        )
    except LoginFailed as failure:
        return render(
            request,
            "access/totp.html",
            status_code=401,
            next=_safe_next(next),
            enrol=False,
            secret=None,
            qr=None,
            error=failure.message,
        )
    queue_cookie(request, SESSION_COOKIE, opened.token)
    return _redirect(_safe_next(next))


@router.post("/logout", name="auth:logout")
def logout(request: Request, session: WriteSession) -> Response:
    access_service.end_session(
        session,
        token=request.cookies.get(SESSION_COOKIE, ""),
        ip=client_ip(request),
        settings=_settings(request),
    )
    clear_cookie(request, SESSION_COOKIE)
    return _redirect(request.url_for("auth:login").path)


@router.get("/account", name="auth:account")
def account(
    request: Request,
    session: ReadSession,
    actor: CurrentActor,
    changed: Annotated[int, Query(ge=0, le=1)] = 0,
) -> HTMLResponse:
    return _account_page(request, session, actor, changed=bool(changed), issued=None)


def _account_page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    changed: bool,
    issued: access_service.IssuedInvitation | None,
) -> HTMLResponse:
    return render(
        request,
        "access/account.html",
        actor=actor,
        changed=changed,
        notifications=access_service.list_notifications(session, actor),
        pending=access_service.list_pending_members(session, actor),
        can_invite=access_service.may_invite(session, actor),
        invite_officer=actor.has_role(Role.INSTITUTION_OFFICER),
        issued=issued,
        issued_url=_absolute(request, issued.path) if issued else None,
    )


def _absolute(request: Request, path: str) -> str:
    # From the configured public base URL, never the request's Host header (issue 21, finding 4).
    return _settings(request).public_base_url.rstrip("/") + path


@router.post("/account/invitations", name="auth:invite")
def invite(
    request: Request,
    session: WriteSession,
    actor: CurrentActor,
    note: OptionalText = "",
    org_admin: Annotated[str, Form(max_length=5)] = "",
) -> HTMLResponse:
    issued = access_service.invite_member(session, actor, org_admin=org_admin == "1", note=note)
    # The link is shown on this response only; the platform keeps only its SM3.
    return _account_page(request, session, actor, changed=False, issued=issued)


@router.post("/account/members/{user_id}/decide", name="auth:member_decide")
def member_decide(
    request: Request,
    session: WriteSession,
    actor: CurrentActor,
    user_id: Id,
    approve: Annotated[str, Form(max_length=5)],
) -> Response:
    access_service.decide_member(session, actor, user_id=user_id, approve=approve == "1")
    return _redirect(request.url_for("auth:account").path)


# --- Invitations -----------------------------------------------------------------------------

Token = Annotated[str, Path(min_length=16, max_length=200)]


@router.get("/invitations/{token}", name="auth:invitation")
def invitation_form(request: Request, session: ReadSession, token: Token) -> HTMLResponse:
    return _invitation_page(request, session, token, values={}, errors={})


def _invitation_page(
    request: Request,
    session: Session,
    token: str,
    *,
    values: dict[str, str],
    errors: dict[str, list[str]],
    status_code: int = 200,
) -> HTMLResponse:
    invitation = access_service.get_open_invitation(session, token)
    if invitation is None:
        raise NotFound("邀请不存在、已使用或已过期", key="access.invitation_invalid")
    return render(
        request,
        "access/invitation.html",
        status_code=status_code,
        invitation=invitation,
        token=token,
        values=values,
        errors=errors,
    )


@router.post("/invitations/{token}", name="auth:invitation_accept")
def invitation_accept(
    request: Request,
    session: WriteSession,
    token: Token,
    username: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    try:
        access_service.accept_invitation(
            session,
            token=token,
            username=username,
            display_name=display_name,
            password=password,
            ip=client_ip(request),
        )
    except ValidationFailed as failure:
        session.rollback()
        return _invitation_page(
            request,
            session,
            token,
            values={"username": username, "display_name": display_name},
            errors=_form_errors(failure.issues or [_failure_issue(failure)], default_field=""),
            status_code=422,
        )
    return _redirect(request.url_for("auth:login").path + "?registered=1")


@router.post("/account/password", name="auth:password_change")
def password_change(
    request: Request,
    session: WriteSession,
    actor: CurrentActor,
    current_password: Annotated[str, Form(max_length=256)],
    password: Annotated[str, Form(max_length=256)],
) -> Response:
    # A wrong current password still counts towards the lockout: PasswordChangeRefused carries
    # its record past the rollback (see web.deps.get_write_session).
    access_service.change_password(
        session, actor, current=current_password, new=password, settings=_settings(request)
    )
    clear_cookie(request, SESSION_COOKIE)
    return _redirect(request.url_for("auth:login").path + "?password_changed=1")


# --- Enterprise registration -----------------------------------------------------------------


REGISTER_KEPT: Final = ("uscc", "legal_rep_name", "username", "display_name")


@router.get("/register", name="auth:register")
def register_form(request: Request) -> HTMLResponse:
    return render(request, "access/register.html", issues=[], values={}, errors={})


@router.post("/register", name="auth:register_submit")
def register_submit(
    request: Request,
    session: WriteSession,
    uscc: Annotated[str, Form(max_length=18)] = "",
    legal_rep_name: Annotated[str, Form(max_length=100)] = "",
    id_tail: Annotated[str, Form(max_length=6)] = "",
    username: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    try:
        user = access_service.register_enterprise_user(
            session,
            uscc=uscc,
            legal_rep_name=legal_rep_name,
            id_tail=id_tail,
            username=username,
            display_name=display_name,
            password=password,
            ip=client_ip(request),
            settings=_settings(request),
        )
    except ValidationFailed as failure:
        # As the request's unit of work would on a raise: roll back, then write again what
        # must stay on record — a failed check counts towards the limits and is audited.
        session.rollback()
        keep = getattr(failure, "kept_on_rollback", None)
        if keep is not None:
            keep(session)
        typed = dict(
            zip(REGISTER_KEPT, (uscc, legal_rep_name, username, display_name), strict=True)
        )
        # The identity number's tail and the password are never sent back.
        return render(
            request,
            "access/register.html",
            status_code=422,
            issues=failure.issues,
            values=typed,
            # The refusal itself leads (法定代表人核验未通过); the issues sit at their fields.
            errors=_form_errors([_failure_issue(failure), *failure.issues], default_field=""),
        )
    done = "pending" if user.status == "pending" else "1"
    return _redirect(request.url_for("auth:login").path + f"?registered={done}")


# --- Users (system admin; security admin assigns roles) --------------------------------------


USER_FILTERS: Final = ("role", "status", "q")
USER_STATUSES: Final = ("active", "disabled", "pending")


@dataclass
class UserForm:
    """The new-user form as typed, kept when it is refused (issue 23: forms keep their input)."""

    username: str = ""
    display_name: str = ""
    role: str = Role.OPERATOR.value
    provider_id: str = ""
    division_code: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)


def _form_errors(issues: list[Issue], *, default_field: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for issue in issues:
        errors.setdefault(issue.field or default_field, []).append(issue.message)
    return errors


def _division_choices() -> list[tuple[str, str]]:
    """(code, name) for the division picker: the provinces, and Anhui's cities and counties (the
    reference data lists only Anhui below province level)."""
    choices = [(d.code, d.name) for d in divisions.provinces()]
    for city in divisions.cities():
        choices.append((city.code, city.name))
        choices.extend((c.code, f"{city.name}{c.name}") for c in divisions.counties(city.code))
    return choices


def _division_name(code: str | None) -> str:
    """A division by name with its code (运营人员 see "合肥市（340100）")."""
    if not code:
        return ""
    name = divisions.name(code)
    return f"{name}（{code}）" if name else code


def _users_page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    form: UserForm | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    query = listing.parse_list_query(request.query_params, filters=USER_FILTERS)
    wanted = {
        "role": query.filter("role"),
        "status": query.filter("status"),
        "search": query.filter("q"),
    }
    total = access_service.count_users(session, actor, **wanted)
    query = listing.clamp_page(query, total)
    rows = access_service.list_users(
        session, actor, **wanted, limit=query.size, offset=query.offset
    )
    return render(
        request,
        "access/users.html",
        status_code=status_code,
        actor=actor,
        users=rows,
        page=listing.Page(rows, total, query.page, query.size),
        roles=[role for role in Role if role in domain.ADMIN_CREATED_ROLES],
        all_roles=list(Role),
        statuses=USER_STATUSES,
        form=form or UserForm(),
        division_choices=_division_choices(),
        division_name=_division_name,
    )


@router.get("/admin/users", name="access:users")
def users(request: Request, session: ReadSession, actor: UserViewer) -> HTMLResponse:
    return _users_page(request, session, actor)


@router.post("/admin/users", name="access:user_create")
def user_create(
    request: Request,
    session: WriteSession,
    actor: SystemAdmin,
    username: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    provider_id: Annotated[str, Form(max_length=20)] = "",
    division_code: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    # No institution or enterprise here: those accounts are bound by the organisation itself.
    form = UserForm(username, display_name, role, provider_id, division_code)
    try:
        user = access_service.create_user(
            session,
            actor,
            username=username,
            display_name=display_name,
            password=password,
            role=_role(role),
            provider_id=_optional_id(provider_id, "provider_id"),
            division_code=division_code,
        )
    except ValidationFailed as failure:
        # Nothing was written (the handler's transaction rolls back on the 422); the form comes
        # back with what was typed, save the password, and each message at its field.
        session.rollback()
        form.errors = _form_errors(failure.issues or [_failure_issue(failure)], default_field="")
        return _users_page(request, session, actor, form=form, status_code=422)
    return _redirect(request.url_for("access:user", user_id=user.id).path)


def _failure_issue(failure: ValidationFailed) -> Issue:
    return Issue("invalid", failure.message)


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise ValidationFailed(
            "角色不存在", issues=[Issue("invalid", "请选择角色", field="role")]
        ) from None


def _optional_id(value: str, field: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        raise ValidationFailed(
            f"{field} 应为数字", issues=[Issue("invalid", "应为数字", field=field)]
        )
    return int(value)


@router.get("/admin/users/{user_id}", name="access:user")
def user_detail(
    request: Request, session: ReadSession, actor: UserViewer, user_id: Id
) -> HTMLResponse:
    return _user_page(request, session, actor, user_id)


def _user_page(
    request: Request,
    session: Session,
    actor: Actor,
    user_id: int,
    *,
    division_value: str | None = None,
    errors: dict[str, list[str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    user = access_service.access_user(session, actor, user_id)
    return render(
        request,
        "access/user.html",
        status_code=status_code,
        actor=actor,
        user=user,
        roles=list(Role),
        admin_roles=sorted(role.value for role in domain.ADMIN_ROLES),
        division_value=user.division_code or "" if division_value is None else division_value,
        division_errors=errors or {},
        division_choices=_division_choices(),
        division_name=_division_name,
    )


@router.post("/admin/users/{user_id}/division", name="access:user_division")
def user_division(
    request: Request,
    session: WriteSession,
    actor: SystemAdmin,
    user_id: Id,
    division_code: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    try:
        access_service.set_division(
            session, actor, user_id=user_id, division_code=division_code or None
        )
    except ValidationFailed as failure:
        session.rollback()
        errors = _form_errors(failure.issues or [_failure_issue(failure)], default_field="")
        return _user_page(
            request,
            session,
            actor,
            user_id,
            division_value=division_code,
            errors=errors,
            status_code=422,
        )
    return _redirect(request.url_for("access:user", user_id=user_id).path)


@router.post("/admin/users/{user_id}/disable", name="access:user_disable")
def user_disable(
    request: Request, session: WriteSession, actor: SystemAdmin, user_id: Id
) -> Response:
    access_service.disable_user(session, actor, user_id=user_id)
    return _redirect(request.url_for("access:user", user_id=user_id).path)


@router.post("/admin/users/{user_id}/role", name="access:user_role")
def user_role(
    request: Request,
    session: WriteSession,
    actor: SecurityAdmin,
    user_id: Id,
    role: Annotated[str, Form(max_length=32)],
) -> Response:
    access_service.set_role(session, actor, user_id=user_id, role=_role(role))
    return _redirect(request.url_for("access:user", user_id=user_id).path)


# --- Changes among the administrators (a second administrator approves) --------------------

AnyAdmin = Annotated[
    Actor, Depends(require_roles(Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN))
]


@router.post("/admin/users/{user_id}/changes", name="access:admin_change_propose")
def admin_change_propose(
    request: Request,
    session: WriteSession,
    actor: AnyAdmin,
    user_id: Id,
    action: Annotated[str, Form(max_length=16)],
    role: Annotated[str, Form(max_length=32)] = "",
    reason: OptionalText = "",
) -> Response:
    access_service.propose_admin_change(
        session,
        actor,
        user_id=user_id,
        action=action,
        role=_role(role) if role else None,
        reason=reason,
    )
    return _redirect(request.url_for("access:admin_changes").path)


@router.get("/admin/changes", name="access:admin_changes")
def admin_changes(request: Request, session: ReadSession, actor: AnyAdmin) -> HTMLResponse:
    return render(
        request,
        "access/admin_changes.html",
        actor=actor,
        changes=access_service.list_admin_changes(session, actor, status=None),
    )


@router.post("/admin/changes/{change_id}/decide", name="access:admin_change_decide")
def admin_change_decide(
    request: Request,
    session: WriteSession,
    actor: AnyAdmin,
    change_id: Id,
    approve: Annotated[str, Form(max_length=5)],
) -> Response:
    access_service.decide_admin_change(session, actor, change_id=change_id, approve=approve == "1")
    return _redirect(request.url_for("access:admin_changes").path)


# --- API clients and abuse flags (security admin) --------------------------------------------


@router.get("/security/clients", name="access:clients")
def clients(request: Request, session: ReadSession, actor: SecurityAdmin) -> HTMLResponse:
    return render(
        request,
        "access/clients.html",
        clients=access_service.list_clients(session),
        institutions=access_service.list_institutions(session),
        issued=None,
    )


@router.post("/security/clients", name="access:client_create")
def client_create(
    request: Request,
    session: WriteSession,
    actor: SecurityAdmin,
    name: Annotated[str, Form(max_length=200)],
    owner_kind: Annotated[str, Form(max_length=16)],
    algorithm: Annotated[str, Form(max_length=16)],
    institution_id: Annotated[str, Form(max_length=20)] = "",
    provider_id: Annotated[str, Form(max_length=20)] = "",
    node_code: Annotated[str, Form(max_length=12)] = "",
    public_key_pem: Annotated[str, Form(max_length=4000)] = "",
    rate_limit_per_minute: Annotated[str, Form(max_length=8)] = "",
) -> HTMLResponse:
    issued = access_service.create_client(
        session,
        actor,
        name=name,
        owner_kind=owner_kind,
        algorithm=algorithm,
        institution_id=_optional_id(institution_id, "institution_id"),
        provider_id=_optional_id(provider_id, "provider_id"),
        node_code=node_code.strip() or None,
        public_key_pem=public_key_pem.strip() or None,
        rate_limit_per_minute=_optional_id(rate_limit_per_minute, "rate_limit_per_minute"),
        settings=_settings(request),
    )
    # The secret is shown on this response only; it is stored encrypted and never shown again.
    return render(
        request,
        "access/clients.html",
        clients=access_service.list_clients(session),
        institutions=access_service.list_institutions(session),
        issued=issued,
    )


@router.post("/security/clients/{client_id}/status", name="access:client_status")
def client_status(
    request: Request,
    session: WriteSession,
    actor: SecurityAdmin,
    client_id: Id,
    status: Annotated[str, Form(max_length=16)],
) -> Response:
    access_service.set_client_status(session, actor, client_id=client_id, status=status)
    return _redirect(request.url_for("access:clients").path)


@router.get("/security/flags", name="access:flags")
def flags(request: Request, session: ReadSession, actor: SecurityAdmin) -> HTMLResponse:
    return render(
        request,
        "access/flags.html",
        flags=access_service.list_flags(session, actor, status=None),
        institutions={i.id: i for i in access_service.list_institutions(session)},
    )


@router.post("/security/flags/{flag_id}/resolve", name="access:flag_resolve")
def flag_resolve(
    request: Request,
    session: WriteSession,
    actor: SecurityAdmin,
    flag_id: Id,
    note: OptionalText = "",
    lift: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    access_service.resolve_flag(session, actor, flag_id=flag_id, note=note, lift=lift == "1")
    return _redirect(request.url_for("access:flags").path)


# --- Institution admission (operator) --------------------------------------------------------


INSTITUTION_FILTERS: Final = ("kind", "status", "region", "q")


@dataclass
class InstitutionForm:
    """The application form as typed, kept when it is refused."""

    code: str = ""
    name: str = ""
    kind: str = "bank"
    division_code: str = ""
    uscc: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)


def _institution_query(request: Request) -> tuple[listing.ListQuery, dict[str, str | None]]:
    query = listing.parse_list_query(
        request.query_params,
        sortable=access_service.INSTITUTION_SORTS,
        default_sort="code",
        filters=INSTITUTION_FILTERS,
    )
    region = query.filter("region")
    if region is not None and divisions.division_level(region) is None:
        region = None  # not a code: ignored, as a list link's junk is (presentation.listing)
    wanted = {
        "kind": query.filter("kind"),
        "status": query.filter("status"),
        "region": region,
        "search": query.filter("q"),
    }
    return query, wanted


def _find_institutions(
    session: Session,
    wanted: dict[str, str | None],
    sort: listing.Sort,
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[Institution]:
    return access_service.find_institutions(
        session,
        kind=wanted["kind"],
        status=wanted["status"],
        region=wanted["region"],
        search=wanted["search"],
        sort=sort.column,
        descending=sort.descending,
        limit=limit,
        offset=offset,
    )


def _institutions_page(
    request: Request,
    session: Session,
    *,
    form: InstitutionForm | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    query, wanted = _institution_query(request)
    total = access_service.count_matching_institutions(session, **wanted)
    query = listing.clamp_page(query, total)
    sort = query.sort or listing.Sort("code")
    rows = _find_institutions(session, wanted, sort, limit=query.size, offset=query.offset)
    return render(
        request,
        "access/institutions.html",
        status_code=status_code,
        institutions=rows,
        page=listing.Page(rows, total, query.page, query.size),
        sort=sort,
        kinds=domain.INSTITUTION_KINDS,
        states=domain.INSTITUTION_STATES,
        form=form or InstitutionForm(),
        division_choices=_division_choices(),
        division_name=_division_name,
    )


@router.get("/operator/institutions", name="access:institutions")
def institutions(request: Request, session: ReadSession, actor: Operator) -> HTMLResponse:
    return _institutions_page(request, session)


EXPORT_HEADER: Final = ("机构代码", "机构名称", "机构类型", "行政区划代码", "行政区划", "状态", "统一社会信用代码", "登记时间")  # fmt: skip


@router.get("/operator/institutions/export.csv", name="access:institutions_csv")
def institutions_csv(request: Request, session: ReadSession, actor: Operator) -> Response:
    """The whole filtered list in the page's order (not only the page shown)."""
    body = exports.csv_bytes(EXPORT_HEADER, _export_rows(request, session))
    return _attachment(body, "text/csv; charset=utf-8", "institutions.csv")


@router.get("/operator/institutions/export.xlsx", name="access:institutions_xlsx")
def institutions_xlsx(request: Request, session: ReadSession, actor: Operator) -> Response:
    body = exports.xlsx_bytes(EXPORT_HEADER, _export_rows(request, session))
    return _attachment(body, XLSX_MEDIA, "institutions.xlsx")


XLSX_MEDIA: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _attachment(body: bytes, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _export_rows(request: Request, session: Session) -> list[list[str]]:
    query, wanted = _institution_query(request)
    sort = query.sort or listing.Sort("code")
    return [
        [
            i.code,
            i.name,
            i18n.label("zh", "institution_kind", i.kind),
            i.division_code,
            divisions.name(i.division_code) or "",
            i18n.label("zh", "institution_status", i.status),
            i.uscc or "",
            format_datetime_short(i.created_at, "zh"),
        ]
        for i in _find_institutions(session, wanted, sort)
    ]


@router.post("/operator/institutions", name="access:institution_apply")
def institution_apply(
    request: Request,
    session: WriteSession,
    actor: Operator,
    code: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=24)] = "",
    division_code: Annotated[str, Form(max_length=6)] = "",
    uscc: Annotated[str, Form(max_length=18)] = "",
) -> Response:
    form = InstitutionForm(code, name, kind, division_code, uscc)
    try:
        institution = access_service.apply_institution(
            session,
            actor,
            code=code,
            name=name,
            kind=kind,
            division_code=division_code.strip(),
            uscc=uscc.strip(),
        )
    except ValidationFailed as failure:
        session.rollback()
        form.errors = _form_errors(failure.issues or [_failure_issue(failure)], default_field="")
        return _institutions_page(request, session, form=form, status_code=422)
    return _redirect(request.url_for("access:institution", institution_id=institution.id).path)


@router.get("/operator/institutions/{institution_id}", name="access:institution")
def institution_detail(
    request: Request, session: ReadSession, actor: Operator, institution_id: Id
) -> HTMLResponse:
    return _institution_page(request, session, actor, institution_id, issued=None)


def _institution_page(
    request: Request,
    session: Session,
    actor: Actor,
    institution_id: int,
    *,
    issued: access_service.IssuedInvitation | None,
) -> HTMLResponse:
    institution = access_service.access_institution(session, actor, institution_id)
    return render(
        request,
        "access/institution.html",
        institution=institution,
        items=domain.ASSESSMENT_ITEMS,
        targets=sorted(domain.TRANSITIONS[institution.status]),
        has_org_admin=access_service.has_org_admin(session, institution.id),
        issued=issued,
        issued_url=_absolute(request, issued.path) if issued else None,
    )


@router.post("/operator/institutions/{institution_id}/invite", name="access:institution_invite")
def institution_invite(
    request: Request,
    session: WriteSession,
    actor: Operator,
    institution_id: Id,
    note: OptionalText = "",
) -> HTMLResponse:
    issued = access_service.invite_institution_admin(
        session, actor, institution_id=institution_id, note=note
    )
    return _institution_page(request, session, actor, institution_id, issued=issued)


@dataclass(frozen=True)
class WaitingRegistration:
    user: User
    enterprise: tuple[str, str] | None
    days: int
    overdue: bool


def _registrations_page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    evidence: dict[int, str] | None = None,
    errors: dict[int, list[str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    pending = access_service.list_pending_registrations(session, actor)
    names = subjects_service.subject_names(
        session, {u.subject_id for u in pending if u.subject_id is not None}
    )
    now = utc_now()
    rows = [
        WaitingRegistration(
            user,
            names.get(user.subject_id) if user.subject_id is not None else None,
            domain.days_waiting(user.created_at, now),
            domain.review_overdue(user.created_at, now),
        )
        for user in pending  # oldest first: the overdue ones lead
    ]
    page = listing.paginate(rows, listing.parse_list_query(request.query_params, filters=()))
    return render(
        request,
        "access/registrations.html",
        status_code=status_code,
        pending=page.items,
        page=page,
        overdue_count=sum(1 for row in rows if row.overdue),
        review_days=domain.REGISTRATION_REVIEW_DAYS,
        evidence=evidence or {},
        errors=errors or {},
    )


@router.get("/operator/registrations", name="access:registrations")
def registrations(request: Request, session: ReadSession, actor: Operator) -> HTMLResponse:
    return _registrations_page(request, session, actor)


@router.post("/operator/registrations/{user_id}", name="access:registration_review")
def registration_review(
    request: Request,
    session: WriteSession,
    actor: Operator,
    user_id: Id,
    approve: Annotated[str, Form(max_length=5)],
    evidence: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        access_service.review_registration(
            session, actor, user_id=user_id, approve=approve == "1", evidence=evidence
        )
    except ValidationFailed as failure:
        session.rollback()
        messages = [issue.message for issue in failure.issues] or [failure.message]
        return _registrations_page(
            request,
            session,
            actor,
            evidence={user_id: evidence},
            errors={user_id: messages},
            status_code=422,
        )
    return _redirect(request.url_for("access:registrations").path)


@router.post("/operator/institutions/{institution_id}/assess", name="access:institution_assess")
def institution_assess(
    request: Request,
    session: WriteSession,
    actor: Operator,
    institution_id: Id,
    item: Annotated[str, Form(max_length=64)],
    note: OptionalText = "",
    checked: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    access_service.check_assessment_item(
        session, actor, institution_id=institution_id, item=item, checked=checked == "1", note=note
    )
    return _redirect(request.url_for("access:institution", institution_id=institution_id).path)


@router.post(
    "/operator/institutions/{institution_id}/transition", name="access:institution_transition"
)
def institution_transition(
    request: Request,
    session: WriteSession,
    actor: Operator,
    institution_id: Id,
    target: Annotated[str, Form(max_length=16)],
    reason: OptionalText = "",
) -> Response:
    access_service.transition_institution(
        session, actor, institution_id=institution_id, target=target, reason=reason
    )
    return _redirect(request.url_for("access:institution", institution_id=institution_id).path)
