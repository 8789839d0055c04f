"""Pages of consent: the enterprise's consents (decide, receipts), access log and notifications;
the institution's requests, consents and reads under consent. Handlers parse the form, call the
consent service, render or redirect; the rules (who may see what, masking) live in the service."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time
from typing import Annotated, Final, NamedTuple

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit
from creditbridge.catalog import service as catalog_service
from creditbridge.catalog.schemas import DisclosureClass
from creditbridge.consent import service
from creditbridge.consent.domain import ConsentStatus, Move, Purpose, allowed_moves
from creditbridge.consent.models import ConsentGrant
from creditbridge.core import types
from creditbridge.core.actors import Actor, Role
from creditbridge.core.clock import SHANGHAI, to_local, utc_now
from creditbridge.core.errors import Issue, NotFound, ValidationFailed
from creditbridge.presentation.errors import keyed, keyed_issue
from creditbridge.subjects import service as subjects_service
from creditbridge.web.auth import require_roles
from creditbridge.web.deps import ReadSession, WriteSession
from creditbridge.web.templating import render

router = APIRouter(include_in_schema=False)

Id = Annotated[types.Id, Path()]
Enterprise = Annotated[Actor, Depends(require_roles(Role.ENTERPRISE_USER))]
Officer = Annotated[Actor, Depends(require_roles(Role.INSTITUTION_OFFICER))]
EitherSide = Annotated[
    Actor, Depends(require_roles(Role.ENTERPRISE_USER, Role.INSTITUTION_OFFICER))
]
DEFAULT_VALIDITY_DAYS: Final = 90
DEFAULT_MAX_USES: Final = 5
# Pending requests wait for the enterprise: they come first on its list.
_PENDING_FIRST: Final = {ConsentStatus.REQUESTED.value: 0}


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@dataclass(frozen=True)
class CategoryChoice:
    """A category of the list as a checkbox: ``public`` when all it returns is public
    information, which any institution may read without a consent."""

    code: str
    name_zh: str
    name_en: str
    public: bool


def _category_choices(session: Session) -> list[CategoryChoice]:
    needs_consent = {
        d.category
        for d in catalog_service.list_datasets(session)
        if d.disclosure_class == DisclosureClass.AUTHORIZED
    }
    return [
        CategoryChoice(c.code, c.name_zh, c.name_en, c.code not in needs_consent)
        for c in catalog_service.list_categories(session)
        if c.dataset_count
    ]


# --- Enterprise: my consents -----------------------------------------------------------------


@router.get("/enterprise/consents", name="consent:mine")
def my_consents(request: Request, session: ReadSession, actor: Enterprise) -> HTMLResponse:
    grants = sorted(
        service.list_for_subject(session, actor),
        key=lambda grant: _PENDING_FIRST.get(grant.status, 1),
    )
    return render(
        request,
        "consent/enterprise_list.html",
        grants=grants,
        institutions=service.institution_names(session, {g.institution_id for g in grants}),
        categories={c.code: c for c in _category_choices(session)},
        notifications=service.list_notifications(session, actor, limit=5),
    )


# --- The consent forms: the enterprise's grant and the institution's request -------------------


@dataclass
class TermsForm:
    """A consent's terms as typed, kept to show them again next to their errors."""

    purpose: str = Purpose.LOAN_APPLICATION.value
    categories: tuple[str, ...] = ()
    data_from: str = ""
    data_to: str = ""
    valid_until: str = ""
    max_uses: str = str(DEFAULT_MAX_USES)
    note: str = ""


@dataclass
class GrantForm(TermsForm):
    """The enterprise's own consent, to the institution it chose."""

    institution_id: str = ""


@dataclass
class RequestForm(TermsForm):
    """The institution's request, to the enterprise of a credit code."""

    uscc: str = ""


def _typed_terms(
    purpose: Annotated[str, Form(max_length=32)] = "",
    categories: Annotated[list[str] | None, Form(max_length=64)] = None,
    data_from: Annotated[str, Form(max_length=20)] = "",
    data_to: Annotated[str, Form(max_length=20)] = "",
    valid_until: Annotated[str, Form(max_length=20)] = "",
    max_uses: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> TermsForm:
    """The terms' fields of a posted consent form, as typed."""
    return TermsForm(
        purpose, tuple(categories or ()), data_from, data_to, valid_until, max_uses, note
    )


TypedTerms = Annotated[TermsForm, Depends(_typed_terms)]


class ParsedTerms(NamedTuple):
    valid_until: datetime | None
    max_uses: int
    data_from: date | None
    data_to: date | None


def _parse_terms(form: TermsForm, issues: list[Issue]) -> ParsedTerms:
    """The typed dates and uses, each unreadable one an issue at its field."""
    until = _date(form.valid_until, "valid_until", issues)
    if until is None and not any(i.field == "valid_until" for i in issues):
        issues.append(
            keyed_issue("CB-FORM-REQUIRED", "error.consent.until_required", field="valid_until")
        )
    uses = _int(form.max_uses, "max_uses", issues)
    start, end = _date(form.data_from, "data_from", issues), _date(form.data_to, "data_to", issues)
    return ParsedTerms(
        # The consent runs to the end of the chosen day, Beijing time.
        None if until is None else datetime.combine(until, time(23, 59, 59), tzinfo=SHANGHAI),
        uses,
        start,
        end,
    )


def _date(value: str, field: str, issues: list[Issue]) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        issues.append(keyed_issue("CB-FORM-DATE", "error.consent.form_date", field=field))
        return None


def _int(value: str, field: str, issues: list[Issue]) -> int:
    text = value.strip()
    if not text.isdigit() or len(text) > 6:
        issues.append(keyed_issue("CB-FORM-NUMBER", "error.consent.form_number", field=field))
        return 0
    return int(text)


def _default_until() -> str:
    until = to_local(utc_now()).date().toordinal() + DEFAULT_VALIDITY_DAYS
    return date.fromordinal(until).isoformat()


def _render_form(
    request: Request,
    session: Session,
    form: GrantForm | RequestForm,
    issues: list[Issue],
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """The grant or request form (by the type of ``form``) with each issue at its field."""
    by_field: dict[str, list[str]] = {}
    for issue in issues:
        by_field.setdefault(issue.field or "", []).append(issue.message)
    grant = isinstance(form, GrantForm)
    choices = _category_choices(session)
    return render(
        request,
        "consent/grant.html" if grant else "consent/request.html",
        status_code=status_code,
        form=form,
        errors=by_field,
        purposes=list(Purpose),
        # Public categories need no consent: offering them in a grant would make the enterprise
        # think it protects what anyone may already read.
        choices=[c for c in choices if not c.public] if grant else choices,
        institutions=service.grantable_institutions(session) if grant else [],
    )


# --- Enterprise: start a consent --------------------------------------------------------------


@router.get("/enterprise/consents/new", name="consent:grant_form")
def grant_form(
    request: Request,
    session: ReadSession,
    actor: Enterprise,
    institution_id: Annotated[types.Id | None, Query()] = None,
) -> HTMLResponse:
    form = GrantForm(institution_id=str(institution_id or ""), valid_until=_default_until())
    return _render_form(request, session, form, [])


@router.post("/enterprise/consents", name="consent:grant_submit")
def grant_submit(
    request: Request,
    session: WriteSession,
    actor: Enterprise,
    terms: TypedTerms,
    institution_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    form = GrantForm(**asdict(terms), institution_id=institution_id)
    issues: list[Issue] = []
    if not institution_id.strip().isdigit():
        issues.append(
            keyed_issue(
                "CB-FORM-REQUIRED",
                "error.consent.institution_not_grantable",
                field="institution_id",
            )
        )
    parsed = _parse_terms(form, issues)
    if issues:
        return _render_form(request, session, form, issues, status_code=422)
    assert parsed.valid_until is not None
    try:
        grant = service.grant_to_institution(
            session,
            actor,
            institution_id=int(institution_id),
            purpose=form.purpose,
            categories=form.categories,
            valid_until=parsed.valid_until,
            max_uses=parsed.max_uses,
            data_from=parsed.data_from,
            data_to=parsed.data_to,
            note=form.note.strip(),
        )
    except ValidationFailed as failure:
        return _render_form(request, session, form, failure.issues, status_code=422)
    return _redirect(request.url_for("consent:detail", consent_id=grant.id).path)


@router.get("/consents/{consent_id}", name="consent:detail")
def consent_detail(
    request: Request, session: ReadSession, actor: EitherSide, consent_id: Id
) -> HTMLResponse:
    grant = service.access_consent(session, actor, consent_id)
    history = audit.list_events(
        session,
        flt=audit.EventFilter(object_type="consent_grant", object_id=str(grant.id)),
        limit=200,
    )
    return render(
        request,
        "consent/detail.html",
        actor=actor,
        grant=grant,
        moves=[m.value for m in allowed_moves(grant.status)],
        history=[(event, event.content) for event in reversed(history)],
        institution=service.institution_names(session, [grant.institution_id]).get(
            grant.institution_id, ""
        ),
        subject=subjects_service.subject_names(session, [grant.subject_id]).get(grant.subject_id),
        categories={c.code: c for c in _category_choices(session)},
    )


@router.post("/consents/{consent_id}/receipt", name="consent:receipt")
def consent_receipt(
    request: Request, session: WriteSession, actor: Enterprise, consent_id: Id
) -> Response:
    # Handing out a receipt is itself audited: a POST with the page's CSRF token, so that a
    # cross-site link cannot write to the trail. Declared before consent:decide, whose
    # /consents/{id}/{move} would otherwise take the path and refuse "receipt" as a move.
    raw = service.receipt(
        session, actor, consent_id=consent_id, settings=request.app.state.settings
    )
    return Response(
        raw,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="consent-{consent_id}-receipt.json"'
        },
    )


@router.post("/consents/{consent_id}/{move}", name="consent:decide")
def consent_decide(
    request: Request,
    session: WriteSession,
    actor: Enterprise,
    consent_id: Id,
    move: Annotated[str, Path(pattern="^(approve|reject|pause|resume|revoke)$")],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    service.decide(session, actor, consent_id=consent_id, move=Move(move), reason=reason or None)
    return _redirect(request.url_for("consent:detail", consent_id=consent_id).path)


@router.get("/enterprise/access-log", name="consent:access_log")
def access_log(
    request: Request,
    session: ReadSession,
    actor: Enterprise,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    size = 50
    entries = service.list_access_log(session, actor, limit=size + 1, offset=(page - 1) * size)
    shown = entries[:size]
    return render(
        request,
        "consent/access_log.html",
        entries=shown,
        page=page,
        has_next=len(entries) > size,
        institutions=service.institution_names(
            session, {e.institution_id for e in shown if e.institution_id}
        ),
        datasets={d.code: d for d in catalog_service.list_datasets(session)},
    )


@router.get("/notifications", name="consent:notifications")
def notifications(request: Request, session: ReadSession, actor: EitherSide) -> HTMLResponse:
    return render(
        request,
        "consent/notifications.html",
        actor=actor,
        notifications=service.list_notifications(session, actor, limit=200),
    )


# --- Institution: request, list, read --------------------------------------------------------


@router.get("/institution/consents/new", name="consent:request_form")
def request_form(
    request: Request,
    session: ReadSession,
    actor: Officer,
    uscc: Annotated[str, Query(max_length=18)] = "",
) -> HTMLResponse:
    form = RequestForm(uscc=uscc, valid_until=_default_until())
    return _render_form(request, session, form, [])


@router.post("/institution/consents", name="consent:request_submit")
def request_submit(
    request: Request,
    session: WriteSession,
    actor: Officer,
    terms: TypedTerms,
    uscc: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    form = RequestForm(**asdict(terms), uscc=uscc)
    issues: list[Issue] = []
    parsed = _parse_terms(form, issues)
    if not uscc.strip():
        issues.append(keyed_issue("CB-FORM-REQUIRED", "error.consent.uscc_required", field="uscc"))
    if issues:
        return _render_form(request, session, form, issues, status_code=422)
    assert parsed.valid_until is not None
    try:
        grant = service.request_consent(
            session,
            actor,
            uscc=uscc,
            purpose=form.purpose,
            categories=form.categories,
            valid_until=parsed.valid_until,
            max_uses=parsed.max_uses,
            data_from=parsed.data_from,
            data_to=parsed.data_to,
            note=form.note.strip(),
        )
    except ValidationFailed as failure:
        return _render_form(request, session, form, failure.issues, status_code=422)
    except NotFound as missing:
        issue = Issue(
            "CB-CONSENT-SUBJECT",
            missing.message,
            field="uscc",
            key=missing.key,
            params=missing.params,
        )
        return _render_form(request, session, form, [issue], status_code=422)
    return _redirect(request.url_for("consent:detail", consent_id=grant.id).path)


@router.get("/institution/consents", name="consent:institution_list")
def institution_consents(request: Request, session: ReadSession, actor: Officer) -> HTMLResponse:
    grants = service.list_for_institution(session, actor)
    return render(
        request,
        "consent/institution_list.html",
        grants=grants,
        subjects=subjects_service.subject_names(session, {g.subject_id for g in grants}),
        categories={c.code: c for c in _category_choices(session)},
    )


@dataclass
class ReadForm:
    uscc: str = ""
    purpose: str = Purpose.LOAN_APPLICATION.value
    categories: tuple[str, ...] = ()
    consent_id: int | None = None


def _read_form_for(session: Session, actor: Actor, consent_id: int | None) -> ReadForm:
    """The read form filled from a cited consent: its enterprise, purpose and scope, plus the
    categories of public information, which need no consent."""
    public = tuple(c.code for c in _category_choices(session) if c.public)
    if consent_id is None:
        return ReadForm(categories=public)
    grant: ConsentGrant = service.access_consent(session, actor, consent_id)
    uscc = subjects_service.subject_names(session, [grant.subject_id])[grant.subject_id][0]
    return ReadForm(uscc, grant.purpose, (*public, *grant.categories), grant.id)


@router.get("/institution/read", name="consent:read_form")
def read_form(
    request: Request,
    session: ReadSession,
    actor: Officer,
    consent_id: Annotated[types.Id | None, Query()] = None,
) -> HTMLResponse:
    return render(
        request,
        "consent/read.html",
        form=_read_form_for(session, actor, consent_id),
        purposes=list(Purpose),
        choices=_category_choices(session),
        consents=service.list_for_institution(session, actor),
        result=None,
    )


@router.post("/institution/read", name="consent:read")
def read_submit(
    request: Request,
    session: WriteSession,
    actor: Officer,
    uscc: Annotated[str, Form(max_length=40)],
    purpose: Annotated[str, Form(max_length=32)],
    categories: Annotated[list[str] | None, Form(max_length=64)] = None,
    consent_id: Annotated[str, Form(max_length=20)] = "",
) -> HTMLResponse:
    cited = int(consent_id) if consent_id.strip().isdigit() else None
    form = ReadForm(uscc, purpose, tuple(categories or ()), cited)
    if not form.categories:
        raise keyed(
            ValidationFailed,
            "error.consent.scope_empty",
            issues=[
                keyed_issue(
                    "CB-CONSENT-SCOPE-EMPTY", "error.consent.scope_empty", field="categories"
                )
            ],
        )
    subject = subjects_service.get_subject_by_uscc_or_raise(session, uscc)
    result = service.read_records(
        session,
        actor,
        subject_id=subject.id,
        purpose=purpose,
        categories=form.categories,
        consent_id=cited,
    )
    datasets = {d.code: d for d in catalog_service.list_datasets(session)}
    return render(
        request,
        "consent/read.html",
        form=form,
        purposes=list(Purpose),
        choices=_category_choices(session),
        consents=service.list_for_institution(session, actor),
        result=result,
        datasets=datasets,
    )
