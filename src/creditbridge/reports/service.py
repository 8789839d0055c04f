"""Use cases of reports: issue the standardized credit report (标准化信用信息报告) for an actor,
show an enterprise's profile, verify an issued file, and mark records disputed or repaired.

What each actor gets (data rules live here, so pages, API and CLI get the same):

* the enterprise itself (self-query, 自查): everything held about it, public or not, unmasked,
  with records that are not published marked as such — free and at any time;
* an institution: public information, plus the financing sections that a valid consent covers
  (read through :func:`creditbridge.consent.service.read_records`, which checks the consent,
  counts a use, writes the enterprise's access log and masks for the institution); a report of
  public information only still passes :func:`creditbridge.consent.service.authorize_read`, so
  a throttled institution reads nothing;
* the operator and the console: public information.

Negative records past their publication period, ended or repaired are left out of every report
but the enterprise's own; records under objection are marked disputed everywhere.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit
from creditbridge.catalog import service as catalog_service
from creditbridge.catalog.schemas import DisclosureClass
from creditbridge.consent import service as consent_service
from creditbridge.consent.domain import Purpose
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import to_local, utc_now
from creditbridge.core.config import Settings
from creditbridge.core.crypto import sm3_hex
from creditbridge.core.errors import Forbidden, NotFound, ValidationFailed
from creditbridge.presentation.errors import keyed
from creditbridge.protection import service as protection
from creditbridge.protection.domain import Viewer, mask_record
from creditbridge.reference import divisions, industries
from creditbridge.reports import domain
from creditbridge.reports.domain import Audience, Check, PubState, ReportRules, SectionRule
from creditbridge.reports.models import RecordFlag, ReportIssuance
from creditbridge.subjects import service as subjects_service

if TYPE_CHECKING:
    from creditbridge.consent.models import ConsentGrant
    from creditbridge.subjects.models import Subject


RULES_PATH: Final = Path(__file__).parent / "data" / "report-rules.yaml"
DISPUTED: Final = "disputed"
REPAIRED: Final = "repaired"
FLAGS: Final = frozenset({DISPUTED, REPAIRED})
DEFAULT_PURPOSE: Final = Purpose.LOAN_APPLICATION.value
Format = Literal["html", "pdf"]


@lru_cache(maxsize=1)
def report_rules() -> ReportRules:
    """The report rules shipped with the platform (data/report-rules.yaml), parsed once."""
    return domain.parse_rules(yaml.safe_load(RULES_PATH.read_text(encoding="utf-8")))


# --- the catalog, as reports need it ---------------------------------------------------------


@dataclass(frozen=True)
class FieldInfo:
    code: str
    label_zh: str
    label_en: str
    type: str
    unit: str | None
    enum_labels: Mapping[str, str]
    classification_level: int
    masking: str


@dataclass(frozen=True)
class DatasetInfo:
    code: str
    name_zh: str
    name_en: str
    category: str
    disclosure: str
    negative: bool
    period_class: str | None
    severity_field: str | None
    fields: tuple[FieldInfo, ...]


@dataclass(frozen=True)
class Catalog:
    version: str
    datasets: dict[str, DatasetInfo]
    positions: dict[str, int]


_CATALOG_CACHE: dict[tuple[int, str], Catalog] = {}


def _catalog(session: Session) -> Catalog:
    """The current list as reports read it; cached per loaded version (a version never changes)."""
    current = catalog_service.get_current_version(session)
    if current is None:
        return Catalog("", {}, {})
    key = (current.id, current.source_digest)
    cached = _CATALOG_CACHE.get(key)
    if cached is not None:
        return cached
    infos: dict[str, DatasetInfo] = {}
    for row in catalog_service.list_datasets(session):
        definition = row.definition or {}
        labels = {f.get("code"): f.get("enum_labels") or {} for f in definition.get("fields", [])}
        infos[row.code] = DatasetInfo(
            code=row.code,
            name_zh=row.name_zh,
            name_en=row.name_en,
            category=row.category,
            disclosure=row.disclosure_class,
            negative=row.negative,
            period_class=row.publication_period_class,
            severity_field=definition.get("severity_field"),
            fields=tuple(
                FieldInfo(
                    f.code,
                    f.label_zh,
                    f.label_en,
                    f.type,
                    f.unit,
                    labels.get(f.code, {}),
                    f.classification_level,
                    f.masking,
                )
                for f in row.fields
            ),
        )
    catalog = Catalog(current.version, infos, {code: i for i, code in enumerate(infos)})
    _CATALOG_CACHE.clear()
    _CATALOG_CACHE[key] = catalog
    return catalog


# --- records with their publication state -----------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One record as a report shows it (data already masked for the audience)."""

    id: int
    dataset: str
    event_date: date | None
    data: dict[str, Any]
    state: PubState
    disputed: bool


def record_flags(session: Session, record_ids: Iterable[int]) -> dict[int, set[str]]:
    ids = sorted(set(record_ids))
    if not ids:
        return {}
    out: dict[int, set[str]] = {}
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        rows = session.execute(
            select(RecordFlag.record_id, RecordFlag.flag).where(RecordFlag.record_id.in_(chunk))
        )
        for record_id, flag in rows:
            out.setdefault(record_id, set()).add(flag)
    return out


def _window(
    info: DatasetInfo, data: Mapping[str, Any], event_date: date | None
) -> domain.Window | None:
    if not info.negative or info.period_class is None or event_date is None:
        return None
    severity = info.period_class
    if severity == "by_severity":
        severity = str(data.get(info.severity_field or "", "general") or "general")
    try:
        regime = catalog_service.publication_regime_on(utc_now().date())
        window = regime.window(severity, event_date)
    except (NotFound, KeyError):
        return None
    return domain.Window(published=window.published, publish_until=window.publish_until)


def _entry(
    info: DatasetInfo,
    *,
    record_id: int,
    event_date: date | None,
    plain: Mapping[str, Any],
    shown: dict[str, Any],
    flags: set[str],
    today: date,
) -> Entry:
    rules = report_rules()
    ended_field = rules.ended_when.get(info.code)
    state = domain.publication_state(
        negative=info.negative,
        window=_window(info, plain, event_date),
        ended_on=domain.parse_day(plain.get(ended_field)) if ended_field else None,
        repaired=REPAIRED in flags,
        today=today,
    )
    return Entry(record_id, info.code, event_date, shown, state, DISPUTED in flags)


# --- gathering what an actor may see ----------------------------------------------------------


@dataclass(frozen=True)
class Gathered:
    audience: Audience
    entries: list[Entry]
    purpose: str | None
    consent: ConsentGrant | None
    consented_categories: frozenset[str]


def _public_codes(catalog: Catalog) -> list[str]:
    return [c for c, d in catalog.datasets.items() if d.disclosure == DisclosureClass.PUBLIC]


def _own(actor: Actor, subject: Subject) -> bool:
    return actor.role is Role.ENTERPRISE_USER and actor.subject_id == subject.id


def _is_institution(actor: Actor) -> bool:
    return actor.institution_id is not None and (
        actor.role is Role.INSTITUTION_OFFICER or actor.kind is ActorKind.API_CLIENT
    )


def _may_read_public(actor: Actor) -> bool:
    return (
        actor.role in (Role.OPERATOR, Role.ENTERPRISE_USER)
        or actor.kind in (ActorKind.CLI, ActorKind.SYSTEM)
        or _is_institution(actor)
    )


def _direct_entries(
    session: Session,
    catalog: Catalog,
    subject: Subject,
    codes: Sequence[str],
    viewer: Viewer,
    today: date,
) -> list[Entry]:
    records = subjects_service.list_current_records(
        session, subject_id=subject.id, public_datasets=codes
    )
    flags = record_flags(session, (r.id for r in records))
    entries = []
    for record in records:
        info = catalog.datasets[record.dataset_code]
        plain = protection.reveal_record(record.dataset_code, record.data)
        shown = plain if viewer is Viewer.OWNER else mask_record(info.fields, plain, viewer)
        entries.append(
            _entry(
                info,
                record_id=record.id,
                event_date=record.event_date,
                plain=plain,
                shown=shown,
                flags=flags.get(record.id, set()),
                today=today,
            )
        )
    return entries


def gather(
    session: Session,
    actor: Actor,
    *,
    subject: Subject,
    consent_id: int | None = None,
    purpose: str | None = None,
    find_consent: bool = True,
) -> Gathered:
    """The records ``actor`` may see in a report on ``subject``, with their state.

    An institution citing ``consent_id`` (or holding an active consent for the subject when it
    cites none) reads the financing categories of that consent through the consent service;
    every institution's read, public information only included, passes the consent service's
    authorization first, whose refusal raises as
    :func:`creditbridge.consent.service.authorize_read` says.
    ``find_consent=False`` keeps an institution that cites none to public information."""
    catalog = _catalog(session)
    today = to_local(utc_now()).date()
    if _own(actor, subject):
        every = list(catalog.datasets)
        entries = _direct_entries(session, catalog, subject, every, Viewer.OWNER, today)
        return Gathered(Audience.OWNER, entries, None, None, frozenset())
    if not _may_read_public(actor):
        raise keyed(Forbidden, "error.reports.role_may_not_read")
    grant: ConsentGrant | None = None
    financing: list[str] = []
    if _is_institution(actor):
        if consent_id is not None:
            grant = consent_service.access_consent(session, actor, consent_id)
            if grant.subject_id != subject.id:
                raise keyed(NotFound, "error.reports.no_consent")
        elif find_consent:
            grant = consent_service.find_usable_consent(session, actor, subject_id=subject.id)
        if grant is not None:
            purpose = purpose or grant.purpose
            financing = sorted(
                {
                    d.category
                    for d in catalog.datasets.values()
                    if d.disclosure == DisclosureClass.AUTHORIZED
                    and d.category in set(grant.categories)
                }
            )
        if not financing:
            # Public information only, but an institution's read all the same.
            consent_service.authorize_read(
                session,
                actor,
                subject_id=subject.id,
                purpose=purpose,
                categories=(),
                what={"item": "report"},
            )
    public = _direct_entries(
        session, catalog, subject, _public_codes(catalog), Viewer.PUBLIC, today
    )
    if grant is None or not financing:
        return Gathered(Audience.PUBLIC, public, purpose, grant, frozenset())
    result = consent_service.read_records(
        session,
        actor,
        subject_id=subject.id,
        purpose=purpose or grant.purpose,
        categories=financing,
        consent_id=grant.id,
    )
    views = [
        v
        for v in result.records
        if catalog.datasets[v.dataset_code].disclosure != DisclosureClass.PUBLIC
    ]
    flags = record_flags(session, (v.id for v in views))
    consented = [
        _entry(
            catalog.datasets[v.dataset_code],
            record_id=v.id,
            event_date=v.event_date,
            plain=v.data,
            shown=v.data,
            flags=flags.get(v.id, set()),
            today=today,
        )
        for v in views
    ]
    return Gathered(
        Audience.CONSENTED, public + consented, purpose, result.consent, frozenset(financing)
    )


# --- the report's content ---------------------------------------------------------------------


def _iso(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat()


def _legal_representative(catalog: Catalog, subject: Subject, audience: Audience) -> str | None:
    """Masked as the registration dataset masks it for everyone but the enterprise itself."""
    value = subject.legal_representative
    registration = catalog.datasets.get("registration")
    if value is None or audience is Audience.OWNER or registration is None:
        return value
    viewer = Viewer.CONSENTED if audience is Audience.CONSENTED else Viewer.PUBLIC
    masked = mask_record(registration.fields, {"legal_representative": value}, viewer)
    shown = masked.get("legal_representative")
    return None if shown is None else str(shown)


def _subject_block(subject: Subject) -> dict[str, Any]:
    section = industries.section(subject.industry_section) if subject.industry_section else None
    division = industries.division(subject.industry_code) if subject.industry_code else None
    return {
        "uscc": subject.uscc,
        "name": subject.name,
        "entity_type": subject.entity_type,
        "status": subject.status,
        "division_code": subject.division_code,
        "division_name": divisions.name(subject.division_code) or "",
        "city_code": subject.city_code,
        "city_name": divisions.name(subject.city_code) or "",
        "industry_section": subject.industry_section,
        "industry_section_name": section.name_zh if section else "",
        "industry_code": subject.industry_code,
        "industry_name": division.name_zh if division else "",
        "size_class": subject.size_class,
        "registration_date": _iso(subject.registration_date),
        "registered_capital_fen": subject.registered_capital_fen,
        "legal_representative": subject.legal_representative,
    }


def _visible(entry: Entry, audience: Audience) -> bool:
    return audience is Audience.OWNER or entry.state is PubState.PUBLISHED


def build_content(
    *,
    catalog: Catalog,
    subject: Subject,
    gathered: Gathered,
    report_no: str,
    issued_at: datetime,
    node_code: str,
    node_name: str,
) -> dict[str, Any]:
    """The report as data: what is signed and what the template renders."""
    rules = report_rules()
    audience = gathered.audience
    shown = [e for e in gathered.entries if _visible(e, audience)]
    by_section: dict[str, dict[str, list[Entry]]] = {}
    for entry in shown:
        info = catalog.datasets[entry.dataset]
        section = rules.section_for(category=info.category, disclosure=info.disclosure)
        if section is None:
            continue
        by_section.setdefault(section.code, {}).setdefault(entry.dataset, []).append(entry)
    sections = []
    for section in rules.sections:
        if not _section_in_report(section, gathered):
            continue
        datasets = by_section.get(section.code, {})
        ordered = sorted(datasets, key=lambda code: catalog.positions.get(code, 0))
        sections.append(
            {
                "code": section.code,
                "title_zh": section.zh,
                "title_en": section.en,
                "disclosure": section.disclosure,
                "count": sum(len(v) for v in datasets.values()),
                "datasets": [
                    {
                        "code": code,
                        "name_zh": catalog.datasets[code].name_zh,
                        "name_en": catalog.datasets[code].name_en,
                        "records": [
                            _entry_json(e, audience)
                            for e in sorted(
                                datasets[code],
                                key=lambda e: (e.event_date or date.min, e.id),
                                reverse=True,
                            )
                        ],
                    }
                    for code in ordered
                ],
            }
        )
    published = [(e.dataset, e.data) for e in shown if e.state is PubState.PUBLISHED]
    regime = catalog_service.publication_regime_on(to_local(issued_at).date())
    grant = gathered.consent
    return {
        "report_no": report_no,
        "issued_at": issued_at.isoformat(),
        "node": {"code": node_code, "name": node_name},
        "audience": audience.value,
        "purpose": gathered.purpose,
        "consent": (
            {
                "reference": grant.reference,
                "categories": sorted(gathered.consented_categories),
                "valid_until": grant.valid_until.isoformat(),
            }
            if grant is not None and audience is Audience.CONSENTED
            else None
        ),
        "subject": {
            **_subject_block(subject),
            "legal_representative": _legal_representative(catalog, subject, audience),
        },
        "rules": {
            "report_rules": rules.version,
            "publication_regime": regime.code,
            "publication_basis": regime.basis,
            "catalog_version": catalog.version,
        },
        "summary": {
            "records": len(shown),
            "disputed": sum(1 for e in shown if e.disputed),
            "not_published": sum(1 for e in shown if e.state is not PubState.PUBLISHED),
            "flags": domain.raised_flags(rules, published),
            "sections": {s["code"]: s["count"] for s in sections},
        },
        "sections": sections,
    }


def _section_in_report(section: SectionRule, gathered: Gathered) -> bool:
    if gathered.audience is Audience.OWNER:
        return True
    if section.disclosure == DisclosureClass.PUBLIC:
        return True
    if section.disclosure == DisclosureClass.AUTHORIZED and gathered.audience is Audience.CONSENTED:
        cats = gathered.consented_categories
        if "*" in section.categories:
            specific = {
                c
                for s in report_rules().sections
                if s.disclosure == DisclosureClass.AUTHORIZED
                for c in s.categories
                if c != "*"
            }
            return bool(cats - specific)
        return bool(cats & set(section.categories))
    return False


def _entry_json(entry: Entry, audience: Audience) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": entry.id,
        "event_date": _iso(entry.event_date),
        "data": entry.data,
        "disputed": entry.disputed,
    }
    if audience is Audience.OWNER:
        out["state"] = entry.state.value
    return out


# --- issuing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedReport:
    report_no: str
    issued_at: datetime
    node_code: str
    audience: str
    format: str
    content_digest: str
    signature: str
    file_digest: str
    data: bytes
    content: dict[str, Any]

    @property
    def media_type(self) -> str:
        return "application/pdf" if self.format == "pdf" else "text/html; charset=utf-8"

    @property
    def filename(self) -> str:
        return f"credit-report-{self.report_no}.{self.format}"


def new_report_no(node_code: str, at: datetime) -> str:
    """``<node code>-<YYYYMMDD in China>-<10 random base32 chars>``: unguessable, so the public
    verification page cannot be walked to list who was reported on."""
    token = secrets.token_hex(5).upper()
    return f"{node_code}-{to_local(at):%Y%m%d}-{token}"


def issue_report(
    session: Session,
    actor: Actor,
    *,
    subject_id: int,
    consent_id: int | None = None,
    purpose: str | None = None,
    fmt: Format = "html",
    lang: Literal["zh", "en"] = "zh",
    settings: Settings,
) -> IssuedReport:
    """Issue a signed report on ``subject_id`` for ``actor``; registered and audited in the
    caller's transaction. ``settings`` name the issuing node and its public address, which the QR
    code's verification link points at."""
    from creditbridge.reports import rendering

    if fmt not in ("html", "pdf"):
        raise keyed(ValidationFailed, "error.reports.format")
    if purpose is not None and purpose not in set(Purpose):
        raise keyed(ValidationFailed, "error.reports.unknown_purpose")
    subject = subjects_service.get_subject_or_raise(session, subject_id)
    gathered = gather(session, actor, subject=subject, consent_id=consent_id, purpose=purpose)
    issued_at = utc_now().replace(microsecond=0)
    report_no = new_report_no(settings.node_code, issued_at)
    catalog = _catalog(session)
    content = build_content(
        catalog=catalog,
        subject=subject,
        gathered=gathered,
        report_no=report_no,
        issued_at=issued_at,
        node_code=settings.node_code,
        node_name=settings.node_name,
    )
    key = protection.signing_key()
    sealed = domain.seal(content, key)
    html = rendering.render_report(
        content,
        sealed,
        catalog=catalog,
        lang=lang,
        public_base_url=settings.public_base_url,
        for_pdf=fmt == "pdf",
    )
    data = (
        rendering.html_to_pdf(html) + domain.pdf_seal_line(sealed)
        if fmt == "pdf"
        else html.encode()
    )
    file_digest = sm3_hex(data)
    issuance = ReportIssuance(
        report_no=report_no,
        subject_id=subject.id,
        audience=gathered.audience.value,
        format=fmt,
        purpose=gathered.purpose,
        consent_id=gathered.consent.id if gathered.consent else None,
        institution_id=actor.institution_id if _is_institution(actor) else None,
        actor_kind=str(actor.kind),
        actor_id=actor.id,
        actor_name=actor.name,
        node_code=settings.node_code,
        issued_at=issued_at,
        rules_version=report_rules().version,
        sections=[s["code"] for s in content["sections"]],
        content_digest=sealed["digest"],
        file_digest=file_digest,
        file_size=len(data),
        signature=sealed["signature"]["value"],
        key_fingerprint=sealed["signature"]["key_fingerprint"],
    )
    session.add(issuance)
    session.flush()
    audit.record(
        session,
        actor,
        action="report.issue",
        object_type="report",
        object_id=report_no,
        subject_id=subject.id,
        detail={
            "format": fmt,
            "audience": gathered.audience.value,
            "purpose": gathered.purpose,
            "consent_id": issuance.consent_id,
            "sections": issuance.sections,
            "records": content["summary"]["records"],
            "content_digest": issuance.content_digest,
            "file_digest": file_digest,
        },
    )
    return IssuedReport(
        report_no=report_no,
        issued_at=issued_at,
        node_code=settings.node_code,
        audience=gathered.audience.value,
        format=fmt,
        content_digest=sealed["digest"],
        signature=sealed["signature"]["value"],
        file_digest=file_digest,
        data=data,
        content=content,
    )


# --- the profile ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryGroup:
    code: str
    name_zh: str
    name_en: str
    datasets: list[tuple[DatasetInfo, list[Entry]]]


@dataclass(frozen=True)
class Profile:
    subject: Subject
    audience: Audience
    groups: list[CategoryGroup]
    timeline: list[tuple[Entry, DatasetInfo]]
    flags: list[str]
    consent: ConsentGrant | None
    hidden_categories: list[str]
    """Categories held but not shown to this actor (needs a consent)."""


def profile(
    session: Session,
    actor: Actor,
    *,
    uscc: str,
    consent_id: int | None = None,
    timeline_limit: int = 60,
) -> Profile:
    """Everything ``actor`` may see about the enterprise, by the list's categories, with a
    timeline; audited as a data access."""
    subject = subjects_service.get_subject_by_uscc_or_raise(session, uscc)
    # Browsing a profile uses a consent only when the officer cites it: each read under a consent
    # counts against its uses and shows in the enterprise's access log.
    gathered = gather(session, actor, subject=subject, consent_id=consent_id, find_consent=False)
    catalog = _catalog(session)
    shown = [e for e in gathered.entries if _visible(e, gathered.audience)]
    groups: list[CategoryGroup] = []
    held_categories = {catalog.datasets[e.dataset].category for e in shown}
    for category in catalog_service.list_categories(session):
        items: list[tuple[DatasetInfo, list[Entry]]] = []
        for code, info in catalog.datasets.items():
            if info.category != category.code:
                continue
            rows = [e for e in shown if e.dataset == code]
            if rows:
                rows.sort(key=lambda e: (e.event_date or date.min, e.id), reverse=True)
                items.append((info, rows))
        if items:
            groups.append(CategoryGroup(category.code, category.name_zh, category.name_en, items))
    dated = sorted(
        (e for e in shown if e.event_date is not None),
        key=lambda e: (e.event_date or date.min, e.id),
        reverse=True,
    )
    timeline = [(e, catalog.datasets[e.dataset]) for e in dated[:timeline_limit]]
    hidden: list[str] = []
    if gathered.audience is not Audience.OWNER:
        restricted = {
            d.category
            for d in catalog.datasets.values()
            if d.disclosure == DisclosureClass.AUTHORIZED
        }
        hidden = sorted(restricted - gathered.consented_categories - held_categories)
    audit.record(
        session,
        actor,
        action="report.profile",
        object_type="subject",
        object_id=subject.id,
        subject_id=subject.id,
        detail={"audience": gathered.audience.value, "records": len(shown)},
    )
    published = [(e.dataset, e.data) for e in shown if e.state is PubState.PUBLISHED]
    return Profile(
        subject=subject,
        audience=gathered.audience,
        groups=groups,
        timeline=timeline,
        flags=domain.raised_flags(report_rules(), published),
        consent=gathered.consent,
        hidden_categories=hidden,
    )


# --- verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    ok: bool
    failed: Check | None
    checks: list[tuple[Check, bool | None]]
    """Each check in order: True passed, False failed, None not reached."""
    report_no: str | None = None
    file_format: str | None = None
    issuance: ReportIssuance | None = None
    content: dict[str, Any] | None = None


def get_issuance(session: Session, report_no: str) -> ReportIssuance | None:
    return session.scalar(
        select(ReportIssuance).where(ReportIssuance.report_no == report_no.strip().upper())
    )


def get_issuance_or_raise(session: Session, report_no: str) -> ReportIssuance:
    issuance = get_issuance(session, report_no)
    if issuance is None:
        raise keyed(NotFound, "error.reports.no_issuance")
    return issuance


def verify_file(session: Session, raw: bytes) -> Verification:
    """Check an HTML or PDF report file: genuine (sealed by this node, registered) and unaltered
    (byte-identical to what was issued). Names the first check that failed."""
    found = domain.check_seal(raw, protection.signing_public_key())
    content = found.content
    report_no = content.get("report_no") if isinstance(content, dict) else None
    issuance: ReportIssuance | None = None
    failed = found.failed
    if found.ok:
        issuance = get_issuance(session, str(report_no))
        if (
            issuance is None
            or issuance.content_digest != found.digest
            or issuance.format != found.file_format
        ):
            failed = Check.REGISTRY
        elif issuance.file_digest != sm3_hex(raw):
            failed = Check.FILE
    checks: list[tuple[Check, bool | None]] = []
    reached = True
    for check in domain.CHECK_ORDER:
        if not reached:
            checks.append((check, None))
        elif check is failed:
            checks.append((check, False))
            reached = False
        else:
            checks.append((check, True))
    return Verification(
        ok=failed is None,
        failed=failed,
        checks=checks,
        report_no=str(report_no) if report_no else None,
        file_format=found.file_format,
        issuance=issuance,
        content=content if failed is None else None,
    )


# --- marks on records ---------------------------------------------------------------------------


def set_record_flag(
    session: Session, actor: Actor, *, record_id: int, flag: str, reference: str | None = None
) -> RecordFlag:
    """Mark a record disputed (an objection is open) or repaired (credit repair granted).

    No objection or credit-repair workflow exists yet, so nothing in the platform sets a mark
    today (only tests do); those workflows will call this and :func:`clear_record_flag`."""
    if flag not in FLAGS:
        raise keyed(ValidationFailed, "error.reports.unknown_flag", flag=flag)
    existing = session.scalar(
        select(RecordFlag).where(RecordFlag.record_id == record_id, RecordFlag.flag == flag)
    )
    if existing is not None:
        return existing
    mark = RecordFlag(
        record_id=record_id,
        flag=flag,
        reference=reference,
        set_at=utc_now(),
        set_by=actor.name,
    )
    session.add(mark)
    session.flush()
    audit.record(
        session,
        actor,
        action=f"report.flag_{flag}",
        object_type="subject_record",
        object_id=record_id,
        detail={"reference": reference},
    )
    return mark


def clear_record_flag(session: Session, actor: Actor, *, record_id: int, flag: str) -> bool:
    """Remove a mark (the objection was answered); True when there was one."""
    mark = session.scalar(
        select(RecordFlag).where(RecordFlag.record_id == record_id, RecordFlag.flag == flag)
    )
    if mark is None:
        return False
    session.delete(mark)
    session.flush()
    audit.record(
        session,
        actor,
        action=f"report.unflag_{flag}",
        object_type="subject_record",
        object_id=record_id,
    )
    return True


# --- what the enterprise sees about reports on it ----------------------------------------------


def list_issuances_about(
    session: Session, actor: Actor, *, subject_id: int | None = None, limit: int = 50
) -> list[ReportIssuance]:
    """Reports issued about the enterprise (its own view), newest first."""
    if actor.role is Role.ENTERPRISE_USER:
        if actor.subject_id is None:
            raise keyed(NotFound, "error.reports.no_subject")
        subject_id = actor.subject_id
    elif not (actor.role is Role.OPERATOR or actor.kind in (ActorKind.CLI, ActorKind.SYSTEM)):
        raise keyed(Forbidden, "error.reports.own_issuances_only")
    if subject_id is None:
        raise keyed(ValidationFailed, "error.reports.subject_required")
    return list(
        session.scalars(
            select(ReportIssuance)
            .where(ReportIssuance.subject_id == subject_id)
            .order_by(ReportIssuance.id.desc())
            .limit(limit)
        )
    )


# --- a PDF the worker rendered ------------------------------------------------------------------


def open_rendered_pdf(
    session: Session, actor: Actor, *, report_no: str, folder: Path
) -> tuple[ReportIssuance, bytes]:
    """The file of a report the worker issued for ``actor``, read again through the same gate as
    the issuance: only its requester, and only while the requester may still read the
    enterprise (an institution passes the consent service's authorization: throttle, purpose;
    a consented report also needs its consent still active). Anyone else gets NotFound, so a
    report number reveals nothing. The fetch is audited."""
    issuance = get_issuance(session, report_no)
    if (
        issuance is None
        or issuance.format != "pdf"
        or actor.kind is not ActorKind.USER
        or issuance.actor_kind != str(ActorKind.USER)
        or issuance.actor_id != actor.id
    ):
        raise keyed(NotFound, "error.reports.no_issuance")
    subject = subjects_service.get_subject_or_raise(session, issuance.subject_id)
    if not _own(actor, subject):
        if not _may_read_public(actor):
            raise keyed(Forbidden, "error.reports.role_may_not_read")
        if _is_institution(actor):
            if issuance.consent_id is not None:
                grant = consent_service.access_consent(session, actor, issuance.consent_id)
                if grant.status != "active":
                    raise keyed(Forbidden, "error.reports.consent_no_longer_active")
            # No use is counted (``categories`` empty): the read was counted when it was issued.
            consent_service.authorize_read(
                session,
                actor,
                subject_id=subject.id,
                purpose=issuance.purpose,
                categories=[],
                what={"report_no": report_no, "fetch": "rendered_pdf"},
            )
    path = folder / f"{report_no}.pdf"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise keyed(NotFound, "error.reports.file_gone") from None
    if sm3_hex(data) != issuance.file_digest:
        # Not the file that was issued (a disk fault, a hand edit): never hand it out as ours.
        raise keyed(NotFound, "error.reports.file_gone")
    audit.record(
        session,
        actor,
        action="report.fetch",
        object_type="report",
        object_id=report_no,
        subject_id=subject.id,
        detail={"file_digest": issuance.file_digest},
    )
    return issuance, data
