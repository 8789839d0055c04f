"""What `demo generate` writes, checked on the database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from creditbridge.access.models import Institution
from creditbridge.catalog import service as catalog_service
from creditbridge.catalog.schemas import DatasetSpec
from creditbridge.core.actors import SYSTEM
from creditbridge.core.crypto.digest import sm3_new
from creditbridge.core.errors import Conflict
from creditbridge.demo import service
from creditbridge.demo.models import DemoTruth
from creditbridge.ingest.domain import validate_row
from creditbridge.ingest.models import Batch, Provider, ProviderDataset
from creditbridge.marketplace.models import Loan, Product
from creditbridge.protection import service as protection
from creditbridge.reference import divisions, industries, uscc
from creditbridge.subjects.models import Record, Subject
from demo.province import AS_OF, ENTERPRISES, Province


def _specs(session: Session) -> dict[str, DatasetSpec]:
    return {
        row.code: DatasetSpec.model_validate(row.definition)
        for row in catalog_service.list_datasets(session)
    }


def _records(session: Session) -> list[Any]:
    return list(
        session.execute(
            select(
                Record.id,
                Record.subject_id,
                Record.dataset_code,
                Record.natural_key,
                Record.version,
                Record.status,
                Record.event_date,
                Record.data,
                Record.digest,
                Record.batch_id,
                Record.provider_id,
                Record.source_row,
                Record.received_at,
                Subject.uscc,
            ).join(Subject, Subject.id == Record.subject_id)
        )
    )


def test_every_dataset_of_the_catalog_gets_records(province: Province) -> None:
    counts = dict(
        province.session.execute(
            select(Record.dataset_code, func.count()).group_by(Record.dataset_code)
        ).all()
    )

    missing = set(_specs(province.session)) - set(counts)
    assert not missing, f"datasets without records: {sorted(missing)}"
    assert counts == province.summary.records_by_dataset


def test_every_record_conforms_to_its_catalog_dataset(province: Province) -> None:
    specs = _specs(province.session)
    problems: list[str] = []
    for row in _records(province.session):
        spec = specs[row.dataset_code]
        data = protection.reveal_record(row.dataset_code, row.data)  # level-4 fields encrypted
        outcome = validate_row(spec.fields, data, row=row.id)
        errors = [i for i in outcome.issues if not i.warning]
        if errors:
            problems.append(f"{row.dataset_code} {row.natural_key}: {errors[:2]}")
            continue
        # A fixed point of ingest: the record is exactly what ingest would have stored.
        if outcome.values != data:
            problems.append(f"{row.dataset_code} {row.natural_key}: not in stored form")
        if set(data) - set(spec.field_codes):
            problems.append(
                f"{row.dataset_code}: unknown fields {set(data) - set(spec.field_codes)}"
            )
        if data[spec.subject_key] != row.uscc:
            problems.append(f"{row.dataset_code} {row.natural_key}: uscc is not the subject's")
        expected_key = "|".join(str(data[field]) for field in spec.natural_key)
        if row.natural_key != expected_key:
            problems.append(f"{row.dataset_code}: natural key {row.natural_key} ≠ {expected_key}")
        event = str(data[spec.event_date_field])
        expected_day = date.fromisoformat(event if len(event) == 10 else f"{event}-01")
        if row.event_date != expected_day:
            problems.append(f"{row.dataset_code} {row.natural_key}: event date {row.event_date}")
        if row.digest != protection.record_digest(spec, data):
            problems.append(f"{row.dataset_code} {row.natural_key}: digest")
        if (row.version, row.status) != (1, "current"):
            problems.append(f"{row.dataset_code} {row.natural_key}: version/status")
    assert not problems, "\n".join(problems[:20])


def test_stored_json_is_the_canonical_json_of_the_data(province: Province) -> None:
    raw = province.connection.execute(
        text("SELECT data, digest, dataset_code FROM subject_record ORDER BY id")
    ).all()
    specs = _specs(province.session)
    for data, digest, code in raw:
        value = data if isinstance(data, dict) else orjson.loads(data)
        canonical = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        if protection.encrypted_fields(specs[code]):
            # Level-4 fields are stored encrypted; the digest is over the plaintext.
            plain = protection.reveal_record(code, value)
            assert protection.record_digest(specs[code], plain) == digest
        else:
            h = sm3_new()
            h.update(canonical)
            assert h.digest().hex() == digest
        if isinstance(data, str):  # SQLite keeps the text as written; JSONB re-encodes it
            assert data == canonical.decode()


def test_subjects_have_valid_unique_codes_and_complete_columns(province: Province) -> None:
    subjects = province.session.scalars(select(Subject)).all()

    assert len(subjects) == ENTERPRISES
    codes = [s.uscc for s in subjects]
    assert len(set(codes)) == len(codes)
    assert uscc.validate_many(codes).all()
    assert len({s.name for s in subjects}) == len(subjects)
    kinds = Counter(s.entity_type for s in subjects)
    assert kinds["91"] > kinds["92"] > kinds["93"] > 0
    for s in subjects:
        assert s.uscc[:2] == s.entity_type
        county = divisions.get(s.division_code)
        assert county is not None
        assert county.level == "county"
        assert county.parent_code == s.city_code
        assert industries.division(s.industry_code or "") is not None
        assert industries.section_of(s.industry_code or "") == s.industry_section
        assert s.size_class in {"micro", "small", "medium", "large"}
        assert s.registration_date is not None
        assert s.registration_date < AS_OF
        assert s.registered_capital_fen
        assert s.registered_capital_fen % 1_000_000 == 0
        assert s.legal_representative
        assert 2 <= len(s.legal_representative) <= 3
        assert s.status == "active"
        assert s.created_at <= datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC)


def test_registration_records_repeat_the_subject(province: Province) -> None:
    rows = province.session.execute(
        select(Subject, Record.data)
        .join(Record, Record.subject_id == Subject.id)
        .where(Record.dataset_code == "registration")
    ).all()

    assert len(rows) == ENTERPRISES
    for subject, data in rows:
        assert data["name"] == subject.name
        assert data["legal_representative"] == subject.legal_representative
        assert data["division_code"] == subject.division_code
        assert data["industry_code"] == subject.industry_code
        assert data["registration_date"] == subject.registration_date.isoformat()


def test_nothing_is_dated_after_the_as_of_date(province: Province) -> None:
    end = datetime(AS_OF.year, AS_OF.month, AS_OF.day, 23, 59, tzinfo=UTC)
    session = province.session

    assert session.scalar(select(func.max(Record.event_date))) <= AS_OF
    assert session.scalar(select(func.max(Record.received_at))) <= end
    assert session.scalar(select(func.max(Batch.received_at))) <= end
    assert session.scalar(select(func.max(Loan.disbursement_date))) <= AS_OF
    assert session.scalar(select(func.max(Loan.created_at))) <= end


def test_batches_count_and_digest_their_records(province: Province) -> None:
    session = province.session
    by_batch: dict[int, list[Any]] = defaultdict(list)
    for row in sorted(_records(session), key=lambda r: (r.batch_id, r.source_row)):
        by_batch[row.batch_id].append(row)
    batches = session.scalars(select(Batch)).all()
    applied = [b for b in batches if b.status == "applied"]
    refused = [b for b in batches if b.status == "refused"]

    # The delivery history makes some deliveries refused (no records) and some partial (rejects
    # under the 5% threshold); every applied batch still accounts for exactly its records.
    assert {b.id for b in applied} == set(by_batch)
    assert len(applied) + len(refused) == len(batches)
    for batch in refused:
        assert batch.rows_accepted == 0
        assert batch.rows_rejected > 0.05 * batch.rows_total
    for batch in applied:
        rows = by_batch[batch.id]
        assert batch.channel == "demo"
        assert batch.rows_accepted == len(rows)
        assert batch.rows_total == batch.rows_accepted + batch.rows_rejected
        assert batch.rows_rejected <= 0.05 * batch.rows_total
        assert [r.source_row for r in rows] == list(range(1, len(rows) + 1))
        assert {r.dataset_code for r in rows} == {batch.dataset_code}
        assert {r.provider_id for r in rows} == {batch.provider_id}
        assert {r.received_at for r in rows} == {batch.received_at}
        h = sm3_new()
        h.update("".join(r.digest for r in rows).encode())
        assert batch.content_digest == h.digest().hex()


def test_monthly_datasets_arrive_in_one_batch_per_provider_and_month(province: Province) -> None:
    session = province.session
    power = session.execute(
        select(Batch.batch_key, Provider.code)
        .join(Provider, Provider.id == Batch.provider_id)
        .where(Batch.dataset_code == "utility_power")
    ).all()
    water_providers = session.scalars(
        select(func.count(func.distinct(Batch.provider_id))).where(
            Batch.dataset_code == "utility_water"
        )
    ).one()

    assert len(power) == 12
    assert {code for _, code in power} == {"340000-power"}
    assert water_providers > 5  # each city's water company delivers its own


def test_providers_owe_every_dataset_of_the_list(province: Province) -> None:
    session = province.session
    owed = set(session.scalars(select(ProviderDataset.dataset_code)))

    assert owed == set(_specs(session))
    names = set(session.scalars(select(Provider.name)))
    assert {
        "国家税务总局安徽省税务局",
        "国网安徽省电力有限公司",
        "合肥市住房公积金管理中心",
        "合肥海关",
    } <= names


def test_institutions_and_products_are_plausible(province: Province) -> None:
    session = province.session
    institutions = session.scalars(select(Institution)).all()
    products = session.scalars(select(Product)).all()

    assert 30 <= len(institutions) <= 40
    assert uscc.validate_many([i.uscc for i in institutions if i.uscc]).all()
    assert len({i.uscc for i in institutions}) == len(institutions)
    assert {i.kind for i in institutions} == {"bank", "guarantor", "insurer", "credit_agency"}
    assert 80 <= len(products) <= 120
    for p in products:
        assert 300 <= p.min_rate_bp <= p.max_rate_bp <= 650
        assert 0 < p.min_amount_fen <= p.max_amount_fen
        assert 1 <= p.min_term_months <= p.max_term_months <= 36
        assert p.security_type in {"credit", "guarantee", "mortgage", "pledge"}


def test_loan_statuses_follow_the_hidden_default(province: Province) -> None:
    session = province.session
    truth = dict(session.execute(select(DemoTruth.subject_id, DemoTruth.defaulted)).all())
    loans = session.scalars(select(Loan).order_by(Loan.subject_id, Loan.disbursement_date)).all()
    by_subject: dict[int, list[Loan]] = defaultdict(list)
    for loan in loans:
        by_subject[loan.subject_id].append(loan)

    assert len(by_subject) > ENTERPRISES * 0.2
    for subject_id, own in by_subject.items():
        bad = [loan for loan in own if loan.status in {"defaulted", "overdue"}]
        if truth[subject_id]:
            assert bad == [own[-1]], f"subject {subject_id}: the latest loan shows the default"
        else:
            assert not bad
        for loan in own:
            assert loan.status in {"current", "repaid", "defaulted", "overdue"}
            assert loan.maturity_date > loan.disbursement_date
            assert loan.credit_line_fen >= loan.amount_fen > 0
            assert 300 <= loan.rate_bp <= 650
            if loan.status == "repaid":
                assert loan.maturity_date <= AS_OF


def test_loan_mix_is_plausible(province: Province) -> None:
    loans = province.session.scalars(select(Loan)).all()
    security = Counter(loan.security_type for loan in loans)
    credit_share = security["credit"] / len(loans)
    via_platform = sum(loan.via_platform for loan in loans) / len(loans)

    assert 0.18 <= credit_share <= 0.38
    assert set(security) <= {"credit", "guarantee", "mortgage", "pledge"}
    assert 0.65 <= via_platform <= 0.95
    assert all(loan.product_id is None for loan in loans if not loan.via_platform)


def test_truth_is_kept_for_every_subject(province: Province) -> None:
    session = province.session
    rows = session.scalars(select(DemoTruth)).all()

    assert len(rows) == ENTERPRISES
    assert all(0 < t.true_pd < 1 for t in rows)
    assert all(t.seed == province.summary.seed for t in rows)
    assert 0.005 < sum(t.defaulted for t in rows) / len(rows) < 0.08


def test_generation_refuses_a_database_that_holds_subjects(province: Province) -> None:
    with pytest.raises(Conflict, match="已有 400 个信用主体"):
        service.generate(province.session, SYSTEM, enterprises=10, seed=1, as_of=AS_OF)


def test_ensure_leaves_a_populated_database_alone(province: Province) -> None:
    summary, subjects = service.ensure(
        province.session, SYSTEM, enterprises=10, seed=1, as_of=AS_OF
    )

    assert summary is None
    assert subjects == ENTERPRISES


def test_foreign_keys_hold(province: Province) -> None:
    connection = province.connection
    if connection.dialect.name == "sqlite":
        assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
    orphans = connection.execute(
        text(
            "SELECT count(*) FROM subject_record r LEFT JOIN subject s ON s.id = r.subject_id "
            "LEFT JOIN ingest_batch b ON b.id = r.batch_id WHERE s.id IS NULL OR b.id IS NULL"
        )
    ).scalar()
    assert orphans == 0


def test_indexes_are_back_after_the_bulk_load(province: Province) -> None:
    from sqlalchemy import inspect

    names = {ix["name"] for ix in inspect(province.connection).get_indexes("subject_record")}

    assert {
        "ix_subject_record_natural",
        "ix_subject_record_subject_dataset",
        "ix_subject_record_batch_id",
    } <= names


def test_the_run_is_in_the_audit_trail(province: Province) -> None:
    from creditbridge.audit.models import AuditEvent

    events = province.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "demo.generate")
    ).all()

    assert len(events) == 1
    assert events[0].object_id == str(province.summary.seed)
    assert orjson.loads(events[0].body)["detail"]["enterprises"] == ENTERPRISES


def test_level_4_fields_are_stored_encrypted(province: Province) -> None:
    specs = _specs(province.session)
    encrypted = {code: protection.encrypted_fields(s) for code, s in specs.items()}
    assert encrypted["legal_rep_identity"] == ["id_number"]
    rows = province.connection.execute(
        text("SELECT data FROM subject_record WHERE dataset_code = 'legal_rep_identity'")
    ).all()
    assert rows
    for (data,) in rows:
        stored = data if isinstance(data, dict) else orjson.loads(data)
        plain = protection.reveal_record("legal_rep_identity", stored)
        assert isinstance(stored["id_number"], dict)
        assert plain["id_number"] not in str(data)
