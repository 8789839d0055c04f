"""ingest_batch: idempotency, atomic refusal, versions, withdrawals, provenance, reports."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.audit.models import AuditEvent
from creditbridge.core.actors import CONSOLE, Actor, ActorKind, Role
from creditbridge.core.config import IngestSettings
from creditbridge.core.crypto import content_digest
from creditbridge.core.errors import DuplicateDelivery, NotFound
from creditbridge.ingest import service
from creditbridge.ingest.errors import NotYourProvider
from creditbridge.ingest.models import Batch, Provider, Reject
from creditbridge.subjects.models import Record, Subject

from .conftest import TAX_HEADER_ZH, assign, codes, csv_bytes, record_state, tax_rows


def deliver(session: Session, provider: Provider, data: bytes, key: str | None = "b1", **kw):  # type: ignore[no-untyped-def]
    return service.ingest_batch(
        session, kw.pop("actor", CONSOLE), provider_id=provider.id,
        dataset_code=kw.pop("dataset", "tax_payment"), batch_key=key, source=data,
        filename=kw.pop("filename", "tax.csv"), channel="file", settings=IngestSettings(), **kw,
    )  # fmt: skip


def test_accepted_rows_are_stored_with_provenance(session: Session, provider: Provider) -> None:
    usccs = codes(3)
    outcome = deliver(session, provider, csv_bytes(tax_rows(usccs)))

    assert (outcome.status, outcome.rows_total, outcome.rows_accepted) == ("applied", 3, 3)
    assert (outcome.rows_new, outcome.rows_rejected, outcome.subjects_created) == (3, 0, 3)
    record = session.scalars(select(Record).order_by(Record.source_row)).first()
    assert record is not None
    # The natural key is written as the demo writes it: key values joined by "|".
    assert record.natural_key == f"{usccs[0]}|2026-09"
    assert record.data == {
        "uscc": usccs[0], "period": "2026-09", "declared": True, "taxable_revenue": "1000.50",
        "vat_paid": "10", "income_tax_paid": "20", "total_tax_paid": "30",
    }  # fmt: skip
    assert record.digest == content_digest(record.data)
    assert (record.provider_id, record.batch_id, record.source_row) == (
        provider.id, outcome.batch_id, 2,
    )  # fmt: skip
    assert record.received_at == outcome.received_at
    assert str(record.event_date) == "2026-09-01"
    assert (record.version, record.status) == (1, "current")


def test_unknown_enterprise_becomes_a_subject_to_check(
    session: Session, provider: Provider
) -> None:
    [code] = codes(1)
    deliver(session, provider, csv_bytes(tax_rows([code])))

    subject = session.scalars(select(Subject).where(Subject.uscc == code)).one()
    assert subject.needs_registration_check
    assert subject.division_code == code[2:8]
    assert subject.city_code == "340100"


def test_same_batch_again_is_a_replay_and_changes_nothing(
    session: Session, provider: Provider
) -> None:
    data = csv_bytes([*tax_rows(codes(3)), ("bad", "2026-09", "是", "1", "1", "1", "1")])
    first = deliver(session, provider, data, threshold=0.5)
    state = record_state(session)

    again = deliver(session, provider, data)

    assert again.replayed
    assert not first.replayed
    assert again.batch_id == first.batch_id
    assert again.issues == first.issues
    assert again.rows_rejected == 1
    assert (again.rows_total, again.rows_accepted, again.status) == (4, 3, "applied")
    assert record_state(session) == state
    assert session.scalar(select(func.count()).select_from(Batch)) == 1


def test_same_batch_id_with_other_content_is_a_conflict(
    session: Session, provider: Provider
) -> None:
    deliver(session, provider, csv_bytes(tax_rows(codes(2))))
    with pytest.raises(DuplicateDelivery, match="批次号 b1"):
        deliver(session, provider, csv_bytes(tax_rows(codes(2), revenue="5")))


def test_without_a_batch_id_the_content_is_the_key(session: Session, provider: Provider) -> None:
    data = csv_bytes(tax_rows(codes(2)))
    first = deliver(session, provider, data, key=None)
    assert first.batch_key.startswith("sm3-")
    assert deliver(session, provider, data, key=None).replayed


def test_too_many_rejects_refuse_the_whole_batch_but_keep_its_report(
    session: Session, provider: Provider
) -> None:
    rows = tax_rows(codes(18)) + [("bad", "2026-09", "是", "1", "1", "1", "1")] * 2

    outcome = deliver(session, provider, csv_bytes(rows))  # 2/20 = 10% > 5%

    assert outcome.status == "refused"
    assert outcome.refusal_code == "INGEST-THRESHOLD"
    assert (outcome.rows_total, outcome.rows_rejected, outcome.rows_new) == (20, 2, 0)
    assert session.scalar(select(func.count()).select_from(Record)) == 0
    assert session.scalar(select(func.count()).select_from(Subject)) == 0
    assert session.scalar(select(func.count()).select_from(Reject)) == 2
    assert session.get(Batch, outcome.batch_id) is not None


def test_threshold_is_configurable_per_dataset(
    session: Session, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDITBRIDGE_INGEST_REJECT_THRESHOLDS", '{"tax_payment": 0.2}')
    rows = tax_rows(codes(18)) + [("bad", "2026-09", "是", "1", "1", "1", "1")] * 2

    outcome = deliver(session, provider, csv_bytes(rows))

    assert outcome.status == "applied"
    assert outcome.reject_threshold == 0.2
    assert outcome.rows_new == 18


def test_a_changed_row_supersedes_and_an_unchanged_row_is_not_stored_again(
    session: Session, provider: Provider
) -> None:
    usccs = codes(3)
    deliver(session, provider, csv_bytes(tax_rows(usccs)), key="m1")

    second = deliver(
        session, provider,
        csv_bytes(tax_rows(usccs[:1], revenue="2000") + tax_rows(usccs[1:])), key="m2",
    )  # fmt: skip

    assert (second.rows_updated, second.rows_unchanged, second.rows_new) == (1, 2, 0)
    versions = session.scalars(
        select(Record).where(Record.natural_key == f"{usccs[0]}|2026-09").order_by(Record.version)
    ).all()
    assert [(v.version, v.status) for v in versions] == [(1, "superseded"), (2, "current")]
    assert versions[0].superseded_at == second.received_at
    assert versions[0].data["taxable_revenue"] == "1000.50"  # history kept as it was
    assert versions[1].data["taxable_revenue"] == "2000"
    assert session.scalar(select(func.count()).select_from(Record)) == 4


def test_withdrawal_marks_the_current_version_withdrawn(
    session: Session, provider: Provider
) -> None:
    usccs = codes(2)
    deliver(session, provider, csv_bytes(tax_rows(usccs)), key="m1")
    header = ("uscc", "period", "_action")
    data = csv_bytes([(usccs[0], "2026-09", "撤销"), (usccs[1], "2026-08", "撤销")], header)

    outcome = deliver(session, provider, data, key="w1", threshold=0.5)

    assert (outcome.rows_withdrawn, outcome.rows_rejected) == (1, 1)
    assert outcome.issues[0].code == "INGEST-WITHDRAW-UNKNOWN"
    withdrawn = session.scalars(
        select(Record).where(Record.natural_key == f"{usccs[0]}|2026-09")
    ).one()
    assert withdrawn.status == "withdrawn"
    assert withdrawn.superseded_at == outcome.received_at

    # Delivered again later, the record comes back as a new version; the withdrawal stays.
    back = deliver(session, provider, csv_bytes(tax_rows(usccs[:1])), key="m3")
    assert back.rows_new == 1
    assert [
        (r.version, r.status)
        for r in session.scalars(
            select(Record)
            .where(Record.natural_key == f"{usccs[0]}|2026-09")
            .order_by(Record.version)
        )
    ] == [(1, "withdrawn"), (2, "current")]


def test_unknown_action_is_rejected(session: Session, provider: Provider) -> None:
    [code] = codes(1)
    data = csv_bytes([(*tax_rows([code])[0], "删掉吧")], (*TAX_HEADER_ZH, "操作"))
    outcome = deliver(session, provider, data, threshold=1.0)
    assert [i.code for i in outcome.issues] == ["INGEST-ACTION"]


@pytest.mark.parametrize("chunk_rows", ["5000", "2"])
def test_duplicate_keys_in_one_batch_the_later_row_wins(
    session: Session, provider: Provider, monkeypatch: pytest.MonkeyPatch, chunk_rows: str
) -> None:
    monkeypatch.setenv("CREDITBRIDGE_INGEST_CHUNK_ROWS", chunk_rows)
    a, b = codes(2)
    rows = tax_rows([a, b]) + tax_rows([a], revenue="7") + tax_rows([b])

    outcome = deliver(session, provider, csv_bytes(rows))

    assert outcome.status == "applied"
    assert (outcome.rows_new, outcome.rows_updated, outcome.rows_unchanged) == (2, 1, 1)
    assert outcome.rows_warned == 2
    assert [(i.row, i.code) for i in outcome.issues] == [
        (4, "INGEST-DUPLICATE-KEY"), (5, "INGEST-DUPLICATE-KEY"),
    ]  # fmt: skip
    assert "第2行" in outcome.issues[0].message
    current = session.scalars(
        select(Record).where(Record.natural_key == f"{a}|2026-09", Record.status == "current")
    ).one()
    assert current.data["taxable_revenue"] == "7"
    assert current.source_row == 4


def test_unreadable_file_is_a_refused_batch_with_one_reason(
    session: Session, provider: Provider
) -> None:
    outcome = deliver(session, provider, b"foo,bar\n1,2\n")
    assert outcome.status == "refused"
    assert outcome.refusal_code == "INGEST-HEADER-UNKNOWN"
    assert [(i.row, i.code) for i in outcome.issues] == [(0, "INGEST-HEADER-UNKNOWN")]


def test_header_only_file_is_refused_as_empty(session: Session, provider: Provider) -> None:
    outcome = deliver(session, provider, csv_bytes([]))
    assert (outcome.status, outcome.refusal_code) == ("refused", "INGEST-EMPTY")


def test_rows_from_the_api_by_code_or_label(session: Session, provider: Provider) -> None:
    a, b = codes(2)
    rows = [
        {"uscc": a, "period": "202609", "declared": "否", "taxable_revenue": "1.5万元",
         "vat_paid": 0, "income_tax_paid": "0", "total_tax_paid": "0"},
        {"统一社会信用代码": b, "所属期": "2026年9月", "是否按期申报": True, "应税销售收入": "1,000",
         "增值税实缴税额": "1", "企业所得税实缴税额": "1", "实缴税额合计（万元）": "0.0002"},
    ]  # fmt: skip
    outcome = service.ingest_batch(
        session, CONSOLE, provider_id=provider.id, dataset_code="tax_payment", batch_key="api-1",
        source=rows, filename=None, channel="api", settings=IngestSettings(),
    )  # fmt: skip
    assert (outcome.rows_new, outcome.rows_rejected) == (2, 0)
    data = {r.data["uscc"]: r.data for r in session.scalars(select(Record))}
    assert data[a]["taxable_revenue"] == "15000"
    assert data[a]["declared"] is False
    assert data[b]["total_tax_paid"] == "2"
    assert data[b]["period"] == "2026-09"


def test_a_provider_delivers_only_for_itself(
    session: Session, provider: Provider, other_provider: Provider
) -> None:
    clerk = Actor(kind=ActorKind.USER, id=1, name="clerk", role=Role.PROVIDER_USER,
                  provider_id=other_provider.id)  # fmt: skip
    with pytest.raises(NotYourProvider):
        deliver(session, provider, csv_bytes(tax_rows(codes(1))), actor=clerk)
    assign(session, other_provider.id, "tax_payment")
    own = deliver(session, other_provider, csv_bytes(tax_rows(codes(1))), actor=clerk)
    assert own.status == "applied"
    # Another provider's batch is not found, not forbidden: ids reveal nothing.
    theirs = deliver(session, provider, csv_bytes(tax_rows(codes(1, seed=3))), key="x")
    with pytest.raises(NotFound):
        service.get_batch_outcome(session, clerk, batch_id=theirs.batch_id)


def test_every_batch_is_audited(session: Session, provider: Provider) -> None:
    outcome = deliver(session, provider, csv_bytes(tax_rows(codes(1))))
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "ingest_batch")
    ).one()
    assert event.action == "ingest.batch.applied"
    assert event.object_id == str(outcome.batch_id)


def test_reject_report_is_utf8_csv_with_bom_naming_row_field_and_reason(
    session: Session, provider: Provider
) -> None:
    rows = [*tax_rows(codes(3)), ("bad", "2026-09", "是", "=1+1", "1", "1", "1")]
    outcome = deliver(session, provider, csv_bytes(rows), threshold=0.5)

    report = b"".join(service.reject_report_csv(session, CONSOLE, batch_id=outcome.batch_id))

    assert report.startswith(b"\xef\xbb\xbf")
    lines = report.decode("utf-8-sig").splitlines()
    assert lines[0] == "行号,字段,字段名称,原值,错误代码,错误说明,级别"
    assert lines[1].startswith("5,uscc,统一社会信用代码,bad,INGEST-USCC,")
    assert "'=1+1" in lines[2]  # never run as a formula by Excel


def test_providers_list_with_datasets_owed(session: Session, provider: Provider) -> None:
    [view] = [p for p in service.list_providers(session) if p.code == "tax-ah"]
    assert view.datasets == ["tax_payment"]
    assert view.region == "安徽省"
    assert view.contact_name == "张三"
