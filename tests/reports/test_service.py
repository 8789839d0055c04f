"""Issuing reports: what each actor sees, the publication rules, disputes, the register and
the audit trail, and verification of issued files."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.audit.models import AuditEvent
from creditbridge.consent import service as consent_service
from creditbridge.consent.errors import ConsentRefused, ReadThrottled
from creditbridge.consent.models import AccessLogEntry
from creditbridge.core.actors import CONSOLE, Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import get_settings
from creditbridge.core.errors import Forbidden, NotFound
from creditbridge.reports import service
from creditbridge.reports.domain import Check
from creditbridge.reports.models import ReportIssuance

from .conftest import World, grant_consent


def _records(content: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for section in content["sections"]:
        for dataset in section["datasets"]:
            out.setdefault(dataset["code"], []).extend(dataset["records"])
    return out


def _sections(content: dict[str, Any]) -> list[str]:
    return [s["code"] for s in content["sections"]]


def _events(session: Session, action: str) -> int:
    return session.scalar(select(func.count()).where(AuditEvent.action == action)) or 0


class TestPublicReport:
    def test_leaves_out_expired_minor_and_ended_negative_records(
        self, session: Session, world: World
    ) -> None:
        issued = service.issue_report(
            session, world.operator, subject_id=world.subject.id, settings=get_settings()
        )

        records = _records(issued.content)
        penalty_ids = {r["id"] for r in records["penalty"]}
        assert penalty_ids == {world.records["penalty_recent"].id}
        assert "tax_arrears" not in records
        assert {r["id"] for r in records["serious_dishonesty"]} == {world.records["dishonesty"].id}
        assert issued.content["audience"] == "public"

    def test_summary_flags_the_dishonesty_list_and_counts_sections(
        self, session: Session, world: World
    ) -> None:
        content = service.issue_report(
            session, CONSOLE, subject_id=world.subject.id, settings=get_settings()
        ).content
        assert content["summary"]["flags"] == ["serious_dishonesty"]
        assert content["summary"]["sections"]["penalties"] == 1
        assert content["summary"]["sections"]["honours"] == 1

    def test_holds_no_financing_or_verification_sections(
        self, session: Session, world: World
    ) -> None:
        content = service.issue_report(
            session, world.operator, subject_id=world.subject.id, settings=get_settings()
        ).content
        sections = _sections(content)
        assert sections[:6] == [
            "registration",
            "licences",
            "penalties",
            "judicial",
            "dishonesty",
            "honours",
        ]
        assert "tax" not in sections
        assert "verification" not in sections
        assert "tax_payment" not in _records(content)

    def test_masks_the_legal_representative(self, session: Session, world: World) -> None:
        content = service.issue_report(
            session, world.operator, subject_id=world.subject.id, settings=get_settings()
        ).content
        assert content["subject"]["legal_representative"] != "王小五"
        assert content["subject"]["legal_representative"].startswith("王")

    def test_enterprise_without_records_gets_a_valid_report_saying_so(
        self, session: Session, world: World
    ) -> None:
        issued = service.issue_report(
            session, world.operator, subject_id=world.empty_subject.id, settings=get_settings()
        )
        assert issued.content["summary"]["records"] == 0
        assert "本平台未归集到该企业的公共信用记录".encode() in issued.data
        assert service.verify_file(session, issued.data).ok

    def test_disputed_records_are_marked(self, session: Session, world: World) -> None:
        record = world.records["penalty_recent"]
        service.set_record_flag(
            session, CONSOLE, record_id=record.id, flag="disputed", reference="OB1"
        )
        issued = service.issue_report(
            session, world.operator, subject_id=world.subject.id, settings=get_settings()
        )
        (shown,) = _records(issued.content)["penalty"]
        assert shown["disputed"] is True
        assert issued.content["summary"]["disputed"] == 1
        assert "有异议".encode() in issued.data

    def test_repaired_records_are_left_out(self, session: Session, world: World) -> None:
        record = world.records["dishonesty"]
        service.set_record_flag(session, CONSOLE, record_id=record.id, flag="repaired")
        content = service.issue_report(
            session, world.operator, subject_id=world.subject.id, settings=get_settings()
        ).content
        assert "serious_dishonesty" not in _records(content)
        assert content["summary"]["flags"] == []

    def test_unknown_enterprise_is_not_found(self, session: Session, world: World) -> None:
        with pytest.raises(NotFound):
            service.issue_report(
                session, world.operator, subject_id=999_999, settings=get_settings()
            )

    def test_provider_users_may_not_issue_reports(self, session: Session, world: World) -> None:
        provider = Actor(
            kind=ActorKind.USER, id=9, name="p", role=Role.PROVIDER_USER, provider_id=1
        )
        with pytest.raises(Forbidden):
            service.issue_report(
                session, provider, subject_id=world.subject.id, settings=get_settings()
            )


class TestOwnReport:
    def test_holds_everything_with_what_is_not_published_marked(
        self, session: Session, world: World
    ) -> None:
        content = service.issue_report(
            session, world.owner, subject_id=world.subject.id, settings=get_settings()
        ).content

        records = _records(content)
        states = {r["id"]: r["state"] for rows in records.values() for r in rows}
        assert states[world.records["penalty_expired"].id] == "expired"
        assert states[world.records["penalty_minor"].id] == "not_published"
        assert states[world.records["arrears_cleared"].id] == "ended"
        assert states[world.records["penalty_recent"].id] == "published"
        assert content["audience"] == "owner"
        assert {"tax", "verification"} <= set(_sections(content))

    def test_shows_its_own_data_unmasked(self, session: Session, world: World) -> None:
        content = service.issue_report(
            session, world.owner, subject_id=world.subject.id, settings=get_settings()
        ).content
        (identity,) = _records(content)["legal_rep_identity"]
        assert identity["data"]["id_number"] == "340102198001011234"
        assert content["subject"]["legal_representative"] == "王小五"

    def test_another_enterprise_gets_the_public_report(
        self, session: Session, world: World
    ) -> None:
        stranger = Actor(
            kind=ActorKind.USER,
            id=7,
            name="x",
            role=Role.ENTERPRISE_USER,
            subject_id=world.empty_subject.id,
        )
        content = service.issue_report(
            session, stranger, subject_id=world.subject.id, settings=get_settings()
        ).content
        assert content["audience"] == "public"
        assert "legal_rep_identity" not in _records(content)


class TestInstitution:
    def test_without_a_consent_sees_only_public_sections(
        self, session: Session, world: World
    ) -> None:
        content = service.issue_report(
            session, world.officer, subject_id=world.subject.id, settings=get_settings()
        ).content
        assert content["audience"] == "public"
        assert "tax" not in _sections(content)
        assert "tax_payment" not in _records(content)

    def test_a_throttled_institution_gets_no_report_and_its_refusal_is_audited(
        self, session: Session, world: World
    ) -> None:
        # Public information only is still an institution's read of the enterprise.
        world.bank.throttled_until = utc_now() + timedelta(hours=1)
        session.flush()

        with pytest.raises(ReadThrottled):
            service.issue_report(
                session, world.officer, subject_id=world.subject.id, settings=get_settings()
            )

        refused = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "data.read_refused")
        ).one()
        assert refused.content["detail"]["item"] == "report"
        assert refused.content["detail"]["reason"] == "throttled"
        assert session.scalar(select(func.count()).select_from(ReportIssuance)) == 0

    def test_with_a_consent_sees_the_financing_sections_it_covers(
        self, session: Session, world: World
    ) -> None:
        grant = grant_consent(session, world, categories=["tax"])

        issued = service.issue_report(
            session,
            world.officer,
            subject_id=world.subject.id,
            consent_id=grant.id,
            settings=get_settings(),
        )

        content = issued.content
        assert content["audience"] == "consented"
        assert "tax" in _sections(content)
        assert "social_insurance" not in _sections(content)
        assert [r["id"] for r in _records(content)["tax_payment"]] == [world.records["tax"].id]
        assert content["consent"]["reference"] == grant.reference
        session.refresh(grant)
        assert grant.uses == 1
        log = session.scalars(select(AccessLogEntry)).all()
        assert [e.consent_id for e in log] == [grant.id]

    def test_finds_its_active_consent_when_none_is_cited(
        self, session: Session, world: World
    ) -> None:
        grant_consent(session, world)
        content = service.issue_report(
            session, world.officer, subject_id=world.subject.id, settings=get_settings()
        ).content
        assert content["audience"] == "consented"

    def test_a_revoked_consent_is_refused(self, session: Session, world: World) -> None:
        grant = grant_consent(session, world)
        consent_service.revoke(session, world.owner, consent_id=grant.id)
        with pytest.raises(ConsentRefused):
            service.issue_report(
                session,
                world.officer,
                subject_id=world.subject.id,
                consent_id=grant.id,
                settings=get_settings(),
            )

    def test_another_institutions_consent_is_not_found(
        self, session: Session, world: World
    ) -> None:
        grant = grant_consent(session, world)
        with pytest.raises(NotFound):
            service.issue_report(
                session,
                world.other_officer,
                subject_id=world.subject.id,
                consent_id=grant.id,
                settings=get_settings(),
            )


class TestRegisterAndAudit:
    def test_each_issue_is_registered_and_audited(self, session: Session, world: World) -> None:
        before = _events(session, "report.issue")
        issued = service.issue_report(
            session, world.operator, subject_id=world.subject.id, settings=get_settings()
        )
        row = service.get_issuance_or_raise(session, issued.report_no)
        assert row.content_digest == issued.content_digest
        assert row.node_code == issued.node_code
        assert row.format == "html"
        assert row.audience == "public"
        assert _events(session, "report.issue") == before + 1
        assert issued.report_no.startswith(issued.node_code + "-")

    def test_report_numbers_are_unique(self, session: Session, world: World) -> None:
        numbers = {
            service.issue_report(
                session, CONSOLE, subject_id=world.subject.id, settings=get_settings()
            ).report_no
            for _ in range(5)
        }
        assert len(numbers) == 5


class TestVerify:
    def test_issued_html_is_genuine(self, session: Session, world: World) -> None:
        issued = service.issue_report(
            session, CONSOLE, subject_id=world.subject.id, settings=get_settings()
        )
        result = service.verify_file(session, issued.data)
        assert result.ok
        assert result.failed is None
        assert all(passed for _, passed in result.checks)

    def test_issued_pdf_is_genuine_and_altered_copy_fails_the_file_check(
        self, session: Session, world: World
    ) -> None:
        issued = service.issue_report(
            session, CONSOLE, subject_id=world.subject.id, fmt="pdf", settings=get_settings()
        )
        assert issued.data.startswith(b"%PDF")
        assert service.verify_file(session, issued.data).ok
        middle = len(issued.data) // 3
        altered = (
            issued.data[:middle] + bytes([issued.data[middle] ^ 1]) + issued.data[middle + 1 :]
        )
        assert service.verify_file(session, altered).failed is Check.FILE

    def test_bytes_appended_to_a_pdf_fail_the_file_check(
        self, session: Session, world: World
    ) -> None:
        issued = service.issue_report(
            session, CONSOLE, subject_id=world.subject.id, fmt="pdf", settings=get_settings()
        )
        assert service.verify_file(session, issued.data + b"%extra\n").failed is Check.FILE

    def test_edited_visible_text_fails_the_file_check(self, session: Session, world: World) -> None:
        issued = service.issue_report(
            session, CONSOLE, subject_id=world.subject.id, settings=get_settings()
        )
        altered = issued.data.replace("守合同重信用企业".encode(), "国家级高新技术企业".encode(), 1)
        result = service.verify_file(session, altered)
        assert result.failed is Check.FILE
        assert dict(result.checks)[Check.SIGNATURE] is True

    def test_edited_seal_fails_the_digest_check(self, session: Session, world: World) -> None:
        issued = service.issue_report(
            session, CONSOLE, subject_id=world.subject.id, settings=get_settings()
        )
        altered = issued.data.replace(b'"penalties":1', b'"penalties":0', 1)
        assert altered != issued.data
        result = service.verify_file(session, altered)
        assert result.failed is Check.DIGEST
        assert dict(result.checks)[Check.FILE] is None

    def test_report_missing_from_the_register_fails_the_registry_check(
        self, session: Session, world: World
    ) -> None:
        issued = service.issue_report(
            session, CONSOLE, subject_id=world.subject.id, settings=get_settings()
        )
        session.delete(service.get_issuance_or_raise(session, issued.report_no))
        session.flush()
        assert service.verify_file(session, issued.data).failed is Check.REGISTRY

    def test_anything_else_fails_the_format_check(self, session: Session, world: World) -> None:
        assert service.verify_file(session, b"%PDF-1.4 forged").failed is Check.FORMAT
        assert session.scalar(select(func.count()).select_from(ReportIssuance)) == 0
