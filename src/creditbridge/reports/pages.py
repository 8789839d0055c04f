"""HTML pages of reports: enterprise search and profile, the credit report (HTML/PDF), the public
verification page, the enterprise's self-query, and the aggregates. Handlers parse input, call
the reports service and render; who sees what is decided in the service."""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING, Annotated, Final, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from creditbridge.catalog import service as catalog_service
from creditbridge.consent import service as consent_service
from creditbridge.consent.domain import Purpose, ReceiptCheck
from creditbridge.core.actors import Actor, Role
from creditbridge.core.errors import Busy, NotFound
from creditbridge.presentation import i18n
from creditbridge.presentation.errors import keyed
from creditbridge.reference import uscc as uscc_codes
from creditbridge.reports import analytics, rendering, service
from creditbridge.reports import jobs as report_jobs
from creditbridge.reports.domain import Check
from creditbridge.subjects import service as subjects_service
from creditbridge.web.admission import RETRY_AFTER_SECONDS, pdf_admission
from creditbridge.web.auth import require_roles
from creditbridge.web.deps import ReadSession, WriteSession
from creditbridge.web.templating import language, render

if TYPE_CHECKING:
    from creditbridge.consent.models import ConsentGrant
    from creditbridge.subjects.models import Subject

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


def _subject_or_page(request: Request, session: Session, uscc: str) -> Subject | HTMLResponse:
    """The enterprise of a credit code, else the search page saying why there is none."""
    malformed = _check_code(request, uscc)
    if malformed is not None:
        return malformed
    code = uscc_codes.validate(uscc).code
    subject = subjects_service.find_subject_by_uscc(session, code)
    return _not_found(request, code) if subject is None else subject


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
    subject = _subject_or_page(request, session, uscc)
    if isinstance(subject, HTMLResponse):
        return subject
    # A PDF takes a render slot or is refused at once (503 CB-BUSY), and is dropped if its client
    # leaves before it is ready (the issuance then rolls back). Refused, the user is offered the
    # worker instead: "生成后通知我" (nothing was issued or written yet).
    try:
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
    except Busy:
        if fmt != "pdf":
            raise
        return _issue_page(
            request, session, actor, subject, consent_id, purpose, busy=True, status=503
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
    subject = _subject_or_page(request, session, uscc)
    if isinstance(subject, HTMLResponse):
        return subject
    return _issue_page(request, session, actor, subject, consent_id, purpose)


def _consent_about(
    session: Session, actor: Actor, consent_id: int | None, subject: Subject
) -> ConsentGrant | None:
    """The cited consent, which ``actor`` may see and which is about ``subject`` (else NotFound)."""
    grant = consent_service.access_consent(session, actor, consent_id) if consent_id else None
    if grant is not None and grant.subject_id != subject.id:
        raise keyed(NotFound, "error.reports.no_consent")
    return grant


def _issue_page(
    request: Request,
    session: Session,
    actor: Actor,
    subject: Subject,
    consent_id: int | None,
    purpose: str | None,
    *,
    busy: bool = False,
    status: int = 200,
) -> HTMLResponse:
    grant = _consent_about(session, actor, consent_id, subject)
    return render(
        request,
        "reports/issue.html",
        status_code=status,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)} if busy else None,
        subject=subject,
        actor=actor,
        grant=grant,
        purpose=purpose if purpose in {p.value for p in Purpose} else None,
        busy=busy,
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


@router.post("/reports/{uscc}/pdf/notify", name="reports:pdf_notify")
def report_pdf_notify(
    request: Request,
    session: WriteSession,
    actor: Reader,
    uscc: Code,
    consent_id: ConsentForm = None,
    purpose: PurposeForm = None,
) -> Response:
    """The PDF made by the worker; the user finds it, with its link, among their notices. The
    reading rules are checked when the worker issues it, as the request would have."""
    subject = _subject_or_page(request, session, uscc)
    if isinstance(subject, HTMLResponse):
        return subject
    # A consent of someone else is refused now, not in the worker.
    _consent_about(session, actor, consent_id, subject)
    report_jobs.request_pdf(
        session,
        actor,
        subject_id=subject.id,
        consent_id=consent_id,
        purpose=purpose or None,
        lang=language(request),
    )
    return RedirectResponse(request.url_for("reports:ready").path + "?queued=1", 303)


@router.get("/report-files", name="reports:ready")
def ready(
    request: Request,
    session: ReadSession,
    actor: Reader,
    queued: Annotated[int, Query(ge=0, le=1)] = 0,
) -> HTMLResponse:
    """The notices of the PDFs the worker made for this user, and the PDFs themselves."""
    works = report_jobs.list_ready(session, actor)
    return render(
        request,
        "reports/ready.html",
        actor=actor,
        ready=works,
        notices=report_jobs.list_notices(session, actor),
        queued=bool(queued),
        subjects=subjects_service.subject_names(
            session, {int(w.args["report_subject_id"]) for w in works}
        ),
    )


@router.post("/report-files/read", name="reports:notices_read")
def notices_read(request: Request, session: WriteSession, actor: Reader) -> Response:
    report_jobs.mark_read(session, actor)
    return RedirectResponse(request.url_for("reports:ready").path, 303)


@router.get("/report-files/{report_no}.pdf", name="reports:rendered_pdf")
def rendered_pdf(
    request: Request,
    session: WriteSession,
    actor: Reader,
    report_no: Annotated[str, Path(max_length=40)],
) -> Response:
    # A write session: the fetch is audited (and an institution's read passes the consent gate).
    issuance, data = service.open_rendered_pdf(
        session,
        actor,
        report_no=report_no,
        folder=report_jobs.pdf_path(request.app.state.settings, report_no).parent,
    )
    report_jobs.mark_read(session, actor, report_no=issuance.report_no)
    filename = quote(f"credit-report-{issuance.report_no}.pdf")
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{filename}",
            "X-Report-No": issuance.report_no,
            "Cache-Control": "no-store",
        },
    )


# --- verification (public) ---------------------------------------------------------------------


def _verify_page(
    request: Request,
    session: Session,
    *,
    report_no: str | None,
    result: service.Verification | None = None,
    status: int = 200,
    receipt: ReceiptCheck | None = None,
    by_reference: consent_service.PublicCheck | None = None,
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
        receipt=receipt,
        by_reference=by_reference,
        categories=(
            {c.code: c for c in catalog_service.list_categories(session)} if receipt else {}
        ),
        times=(
            consent_service.receipt_times(receipt.artefact) if receipt and receipt.artefact else {}
        ),
    )


ConsentPathId = Annotated[int, Path(ge=1, le=2**62)]


def _is_consent_receipt(raw: bytes) -> bool:
    # Reports are PDF or HTML; a consent receipt is the one JSON file the platform hands out.
    return raw.lstrip()[:1] == b"{"


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
    if _is_consent_receipt(raw):
        # The receipt file says everything the page shows: its holder learns nothing new.
        checked = consent_service.verify_receipt(raw[:MAX_UPLOAD])
        return _verify_page(request, session, report_no=None, receipt=checked)
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


@router.get("/verify/receipt/{reference}", name="reports:verify_receipt")
def verify_receipt_link(
    request: Request,
    session: ReadSession,
    reference: Annotated[str, Path(max_length=40)],
    d: Annotated[str, Query(max_length=128)] = "",
) -> HTMLResponse:
    """The page a 授权书's QR code opens: the number and terms digest checked against the
    register, showing only the two sides, purpose, period and whether it is in force."""
    checked = consent_service.check_by_reference(
        session, reference=reference, digest=d, settings=request.app.state.settings
    )
    return _verify_page(
        request,
        session,
        report_no=None,
        by_reference=checked,
        status=200 if checked.ok or checked.reason == "digest" else 404,
    )


@router.post("/enterprise/consents/{consent_id}/letter", name="reports:consent_letter")
def consent_letter(
    request: Request, session: WriteSession, actor: Enterprise, consent_id: ConsentPathId
) -> Response:
    """The 授权书 as a PDF. Here rather than in consent's pages because PDFs are rendered by
    the reports' renderer pool, which the consent layer may not import; a POST with the page's
    token, since issuing it is audited."""
    settings = request.app.state.settings
    with pdf_admission(request):
        letter = consent_service.authorization_letter(
            session, actor, consent_id=consent_id, settings=settings
        )
        html = rendering.render_consent_letter(
            letter,
            categories={c.code: c for c in catalog_service.list_categories(session)},
            lang=language(request),
            public_base_url=settings.public_base_url,
        )
        pdf = rendering.html_to_pdf(html)
    filename = quote(f"授权书-{letter.artefact['reference']}.pdf")
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )


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
        work=report_jobs.latest_aggregates(session),
        run=latest,
        tables=tables,
        dimensions=analytics.DIMENSIONS,
        min_cell=analytics.MIN_CELL,
        key_label=key_label,
        chart_data=chart_data,
    )


@router.post("/aggregates/refresh", name="reports:aggregates_refresh")
def aggregates_refresh(request: Request, session: WriteSession, actor: Operator) -> Response:
    """Queues the recomputation for the worker (seconds of DuckDB over the province must not
    hold a request); htmx gets the status fragment, which then polls until it is done."""
    work = report_jobs.request_aggregates(session, actor)
    if request.headers.get("HX-Request") == "true":
        latest = analytics.latest(session)
        return render(
            request,
            "reports/_agg_status.html",
            work=work,
            shown=latest.id if latest else 0,
        )
    return RedirectResponse("/aggregates", status_code=303)


@router.get("/aggregates/status", name="reports:aggregates_status")
def aggregates_status(
    request: Request,
    session: ReadSession,
    actor: Operator,
    run: Annotated[int, Query(ge=1, le=2**62)],
    shown: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> HTMLResponse:
    """The recomputation's state, polled every 2 s. Once it has stored figures newer than the
    ones on the page (``shown``), htmx reloads the page to show them."""
    work = report_jobs.aggregates_status(session, run)
    latest = analytics.latest(session)
    headers = None
    if work.status == "succeeded" and latest is not None and latest.id != shown:
        headers = {"HX-Refresh": "true"}
    return render(request, "reports/_agg_status.html", headers=headers, work=work, shown=shown)


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
