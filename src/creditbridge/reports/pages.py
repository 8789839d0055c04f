"""HTML pages of reports: enterprise search and profile, the credit report (HTML/PDF), the public
verification page, the enterprise's self-query, and the aggregates. Handlers parse input, call
the reports service and render; who sees what is decided in the service."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated, Final, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from creditbridge.catalog import service as catalog_service
from creditbridge.consent import service as consent_service
from creditbridge.consent.domain import Purpose
from creditbridge.core.actors import Actor, Role
from creditbridge.core.errors import NotFound
from creditbridge.presentation import i18n
from creditbridge.presentation.errors import keyed
from creditbridge.reference import uscc as uscc_codes
from creditbridge.reports import analytics, rendering, service
from creditbridge.reports.domain import Check
from creditbridge.subjects import service as subjects_service
from creditbridge.web.admission import pdf_admission
from creditbridge.web.auth import require_roles
from creditbridge.web.deps import ReadSession, WriteSession
from creditbridge.web.templating import language, render

router = APIRouter(include_in_schema=False)

Reader = Annotated[
    Actor,
    Depends(require_roles(Role.OPERATOR, Role.INSTITUTION_OFFICER, Role.ENTERPRISE_USER)),
]
Enterprise = Annotated[Actor, Depends(require_roles(Role.ENTERPRISE_USER))]
Operator = Annotated[Actor, Depends(require_roles(Role.OPERATOR))]
FigureReader = Annotated[Actor, Depends(require_roles(Role.OPERATOR, Role.INSTITUTION_OFFICER))]
Code = Annotated[str, Path(min_length=1, max_length=64)]
MAX_UPLOAD: Final = 20 * 1024 * 1024


def _search_page(
    request: Request,
    *,
    code: str = "",
    problems: list[str] | None = None,
    status: int = 200,
    not_found: bool = False,
) -> HTMLResponse:
    return render(
        request,
        "reports/search.html",
        status_code=status,
        code=code,
        problems=problems or [],
        not_found=not_found,
    )


def _check_code(request: Request, code: str) -> HTMLResponse | None:
    """The search page with the validator's reasons for a malformed code, else None."""
    result = uscc_codes.validate(code)
    if result.valid:
        return None
    return _search_page(request, code=code, problems=[e.message for e in result.errors], status=422)


def _not_found(request: Request, code: str) -> HTMLResponse:
    return _search_page(request, code=code, status=404, not_found=True)


# --- search and profile ------------------------------------------------------------------------


@router.get("/enterprises", name="reports:search")
def search(
    request: Request,
    session: ReadSession,
    actor: Reader,
    q: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    code = q.strip()
    if not code:
        return _search_page(request)
    malformed = _check_code(request, code)
    if malformed is not None:
        return malformed
    normalized = uscc_codes.validate(code).code
    if subjects_service.find_subject_by_uscc(session, normalized) is None:
        return _not_found(request, normalized)
    return RedirectResponse(request.url_for("reports:profile", uscc=normalized).path, 303)


@router.get("/enterprises/{uscc}", name="reports:profile")
def profile(request: Request, session: WriteSession, actor: Reader, uscc: Code) -> Response:
    # A write session for the page-view audit (and an institution's public read in the access
    # log); a consent is never used by a GET: a cross-site link could spend its uses.
    return _profile(request, session, actor, uscc, consent_id=None)


@router.post("/enterprises/{uscc}", name="reports:profile_under_consent")
def profile_under_consent(
    request: Request,
    session: WriteSession,
    actor: Reader,
    uscc: Code,
    consent_id: Annotated[int, Form(ge=1, le=2**62)],
) -> Response:
    """The profile read under a cited consent: one use of it, so a form with the CSRF token."""
    return _profile(request, session, actor, uscc, consent_id=consent_id)


def _profile(
    request: Request, session: Session, actor: Actor, uscc: str, *, consent_id: int | None
) -> Response:
    malformed = _check_code(request, uscc)
    if malformed is not None:
        return malformed
    code = uscc_codes.validate(uscc).code
    try:
        view = service.profile(session, actor, uscc=code, consent_id=consent_id)
    except NotFound:
        if subjects_service.find_subject_by_uscc(session, code) is None:
            return _not_found(request, code)
        raise
    categories = {c.code: c for c in catalog_service.list_categories(session)}
    return render(
        request,
        "reports/profile.html",
        view=view,
        actor=actor,
        categories=categories,
        flag_rules={f.code: f for f in service.report_rules().flags},
        columns=rendering.columns,
        show=lambda f, v: rendering.format_value(f, v, language(request)),
    )


# --- the report --------------------------------------------------------------------------------


def _issue(
    request: Request,
    session: Session,
    actor: Actor,
    uscc: str,
    *,
    fmt: Literal["html", "pdf"],
    consent_id: int | None,
    purpose: str | None,
    download: bool,
) -> Response:
    malformed = _check_code(request, uscc)
    if malformed is not None:
        return malformed
    code = uscc_codes.validate(uscc).code
    subject = subjects_service.find_subject_by_uscc(session, code)
    if subject is None:
        return _not_found(request, code)
    # A PDF takes a render slot or is refused at once (503 CB-BUSY), and is dropped if its client
    # leaves before it is ready (the issuance then rolls back).
    with pdf_admission(request) if fmt == "pdf" else nullcontext():
        issued = service.issue_report(
            session,
            actor,
            subject_id=subject.id,
            consent_id=consent_id,
            purpose=purpose,
            fmt=fmt,
            lang=language(request),
            settings=request.app.state.settings,
        )
    disposition = "attachment" if download or fmt == "pdf" else "inline"
    filename = quote(issued.filename)
    return Response(
        issued.data,
        media_type=issued.media_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{filename}",
            "X-Report-No": issued.report_no,
            "Cache-Control": "no-store",
        },
    )


ConsentId = Annotated[int | None, Query(ge=1, le=2**62)]
PurposeQ = Annotated[str | None, Query(max_length=40)]
ConsentForm = Annotated[int | None, Form(ge=1, le=2**62)]
PurposeForm = Annotated[str | None, Form(max_length=40)]


@router.get("/reports/{uscc}", name="reports:report_form")
@router.get("/reports/{uscc}/pdf", name="reports:pdf_form")
def report_form(
    request: Request,
    session: ReadSession,
    actor: Reader,
    uscc: Code,
    consent_id: ConsentId = None,
    purpose: PurposeQ = None,
) -> Response:
    """What issuing would do, with the buttons that do it. Issuing registers a report and may
    use a consent, so it is a POST with the page's CSRF token; a link (the report's own
    toolbar, a bookmark, a cross-site page) lands here and changes nothing."""
    malformed = _check_code(request, uscc)
    if malformed is not None:
        return malformed
    code = uscc_codes.validate(uscc).code
    subject = subjects_service.find_subject_by_uscc(session, code)
    if subject is None:
        return _not_found(request, code)
    grant = consent_service.access_consent(session, actor, consent_id) if consent_id else None
    if grant is not None and grant.subject_id != subject.id:
        raise keyed(NotFound, "error.reports.no_consent")
    return render(
        request,
        "reports/issue.html",
        subject=subject,
        actor=actor,
        grant=grant,
        purpose=purpose if purpose in {p.value for p in Purpose} else None,
    )


@router.post("/reports/{uscc}", name="reports:report")
def report_html(
    request: Request,
    session: WriteSession,
    actor: Reader,
    uscc: Code,
    consent_id: ConsentForm = None,
    purpose: PurposeForm = None,
    download: Annotated[bool, Form()] = False,
) -> Response:
    return _issue(
        request,
        session,
        actor,
        uscc,
        fmt="html",
        consent_id=consent_id,
        purpose=purpose or None,
        download=download,
    )


@router.post("/reports/{uscc}/pdf", name="reports:pdf")
def report_pdf(
    request: Request,
    session: WriteSession,
    actor: Reader,
    uscc: Code,
    consent_id: ConsentForm = None,
    purpose: PurposeForm = None,
) -> Response:
    return _issue(
        request,
        session,
        actor,
        uscc,
        fmt="pdf",
        consent_id=consent_id,
        purpose=purpose or None,
        download=True,
    )


# --- verification (public) ---------------------------------------------------------------------


def _verify_page(
    request: Request,
    session: Session,
    *,
    report_no: str | None,
    result: service.Verification | None = None,
    status: int = 200,
) -> HTMLResponse:
    issuance = service.get_issuance(session, report_no) if report_no else None
    subject = (
        subjects_service.subject_names(session, [issuance.subject_id]).get(issuance.subject_id)
        if issuance
        else None
    )
    return render(
        request,
        "reports/verify.html",
        status_code=status,
        report_no=report_no,
        issuance=issuance,
        subject=subject,
        result=result,
        checks=[c.value for c in Check],
    )


@router.get("/verify", name="reports:verify_form")
def verify_form(request: Request, session: ReadSession) -> HTMLResponse:
    return _verify_page(request, session, report_no=None)


@router.get("/verify/{report_no}", name="reports:verify")
def verify_number(
    request: Request, session: ReadSession, report_no: Annotated[str, Path(max_length=40)]
) -> HTMLResponse:
    found = service.get_issuance(session, report_no) is not None
    return _verify_page(request, session, report_no=report_no, status=200 if found else 404)


@router.post("/verify", name="reports:verify_check")
def verify_upload(
    request: Request,
    session: ReadSession,
    file: Annotated[UploadFile | None, File()] = None,
    source: Annotated[str, Form(max_length=MAX_UPLOAD)] = "",
) -> HTMLResponse:
    # A plain def (worker thread): the checks hash the file and read the register synchronously.
    raw = b""
    if file is not None and file.filename:
        raw = file.file.read(MAX_UPLOAD + 1)
    pasted = False
    if not raw and source.strip():
        raw, pasted = source.encode(), True
    if not raw:
        return render(
            request,
            "reports/verify.html",
            status_code=422,
            report_no=None,
            issuance=None,
            subject=None,
            result=None,
            checks=[c.value for c in Check],
            nothing=True,
        )
    result = service.verify_file(session, raw[:MAX_UPLOAD])
    if pasted and not result.ok:
        # A browser sends a textarea's line breaks as CRLF and a paste may lose the final line
        # break; the issued HTML has LF only and ends with one.
        text = source.replace("\r\n", "\n")
        for candidate in (text, text.rstrip("\n") + "\n"):
            retry = service.verify_file(session, candidate.encode())
            if retry.ok:
                result = retry
                break
    # The check ran: a failed verification is an answer, not an error of the request.
    return _verify_page(request, session, report_no=result.report_no, result=result)


# --- self-query ----------------------------------------------------------------------------------


@router.get("/me/report", name="reports:self")
def self_query(request: Request, session: WriteSession, actor: Enterprise) -> HTMLResponse:
    if actor.subject_id is None:
        raise keyed(NotFound, "error.reports.no_subject_bound")
    subject = subjects_service.get_subject_or_raise(session, actor.subject_id)
    view = service.profile(session, actor, uscc=subject.uscc)
    entries = consent_service.list_access_log(session, actor, limit=50)
    return render(
        request,
        "reports/self.html",
        view=view,
        entries=entries,
        institutions=consent_service.institution_names(
            session,
            {e.institution_id for e in entries if e.institution_id}
            | {
                i.institution_id
                for i in service.list_issuances_about(session, actor)
                if i.institution_id
            },
        ),
        issuances=service.list_issuances_about(session, actor, limit=20),
        datasets={d.code: d for d in catalog_service.list_datasets(session)},
        flag_rules={f.code: f for f in service.report_rules().flags},
    )


@router.post("/me/report/pdf", name="reports:self_pdf")
def self_pdf(request: Request, session: WriteSession, actor: Enterprise) -> Response:
    if actor.subject_id is None:
        raise keyed(NotFound, "error.reports.no_subject_bound")
    subject = subjects_service.get_subject_or_raise(session, actor.subject_id)
    return _issue(
        request,
        session,
        actor,
        subject.uscc,
        fmt="pdf",
        consent_id=None,
        purpose=None,
        download=True,
    )


# --- aggregates ----------------------------------------------------------------------------------


@router.get("/aggregates", name="reports:aggregates")
def aggregates(request: Request, session: ReadSession, actor: FigureReader) -> HTMLResponse:
    latest = analytics.latest(session)
    lang = language(request)
    tables = analytics.tables_of(latest) if latest else {}

    def key_label(dimension: str, key: str) -> str:
        if dimension in ("size", "tax_band"):
            group = "size_class" if dimension == "size" else "reports.tax_band"
            return i18n.label(lang, group, key)
        return analytics.key_label(dimension, key, lang)

    def series(dimension: str, value: str) -> list[dict[str, object]]:
        return [
            {"name": key_label(dimension, c["key"]), "value": c[value]}
            for c in tables.get(dimension, [])
            if not c["suppressed"]
        ]

    chart_data = {
        "city": {"kind": "bars", "series": series("city", "penalty_per_1000")},
        "section": {
            "kind": "bars_share",
            "series": series("section", "enterprises"),
            "share": series("section", "dishonest_bp"),
        },
        "tax_band": {"kind": "pie", "series": series("tax_band", "enterprises")},
    }
    return render(
        request,
        "reports/aggregates.html",
        actor=actor,
        run=latest,
        tables=tables,
        dimensions=analytics.DIMENSIONS,
        min_cell=analytics.MIN_CELL,
        key_label=key_label,
        chart_data=chart_data,
    )


@router.post("/aggregates/refresh", name="reports:aggregates_refresh")
def aggregates_refresh(session: WriteSession, actor: Operator) -> RedirectResponse:
    analytics.refresh(session, actor)
    return RedirectResponse("/aggregates", status_code=303)


@router.get("/aggregates.xlsx", name="reports:aggregates_xlsx")
def aggregates_xlsx(session: ReadSession, actor: FigureReader) -> Response:
    latest = analytics.latest(session)
    if latest is None:
        raise keyed(NotFound, "error.reports.no_aggregates")
    return Response(
        analytics.to_excel(latest),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": "attachment; filename=credit-aggregates.xlsx"},
    )
