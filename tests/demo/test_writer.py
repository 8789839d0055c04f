"""The bulk writer: one fast path per store, inside the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from creditbridge.demo.writer import _literal, writer_for
from creditbridge.ingest.models import Provider
from creditbridge.subjects.models import Subject

NOW = datetime(2026, 10, 31, 2, 0, tzinfo=UTC)


def _index_names(session: Session, table: str) -> set[str]:
    return {ix["name"] for ix in inspect(session.connection()).get_indexes(table)}


def test_rows_and_constants_arrive_typed_as_the_orm_reads_them(session: Session) -> None:
    writer = writer_for(session.connection())

    written = writer.insert(
        Provider.__table__,  # type: ignore[arg-type]
        ("code", "name"),
        [("p-1", "甲单位"), ("p-2", "乙单位'")],
        {"kind": "utility", "division_code": "340100", "created_at": writer.timestamp(NOW)},
    )

    assert written == 2
    rows = session.execute(select(Provider).order_by(Provider.code)).scalars().all()
    assert [(p.code, p.name, p.kind, p.division_code) for p in rows] == [
        ("p-1", "甲单位", "utility", "340100"),
        ("p-2", "乙单位'", "utility", "340100"),
    ]
    assert all(p.created_at == NOW for p in rows)


def test_a_bulk_load_rebuilds_the_indexes_of_an_empty_table(session: Session) -> None:
    writer = writer_for(session.connection())
    table = Subject.__table__
    before = _index_names(session, "subject")

    with writer.bulk_load(table):  # type: ignore[arg-type]
        during = _index_names(session, "subject")
        writer.insert(
            table,  # type: ignore[arg-type]
            (
                "uscc",
                "name",
                "entity_type",
                "division_code",
                "city_code",
                "status",
                "needs_registration_check",
                "created_at",
            ),
            [
                (
                    "91340100MA2T00015G",
                    "合肥测试有限公司",
                    "91",
                    "340104",
                    "340100",
                    "active",
                    writer.boolean(False),
                    writer.timestamp(NOW),
                )
            ],
        )

    assert before
    assert not during & {"ix_subject_division_code", "ix_subject_city_code"}
    assert _index_names(session, "subject") == before
    assert session.scalar(select(Subject.name)) == "合肥测试有限公司"


def test_a_bulk_load_keeps_the_indexes_of_a_table_with_rows(session: Session) -> None:
    session.add(
        Subject(
            uscc="91340100MA2T00015G",
            name="已有企业",
            entity_type="91",
            division_code="340104",
            city_code="340100",
            created_at=NOW,
        )
    )
    session.flush()
    writer = writer_for(session.connection())
    before = _index_names(session, "subject")

    with writer.bulk_load(Subject.__table__):  # type: ignore[arg-type]
        assert _index_names(session, "subject") == before


def test_literals_cannot_break_out_of_their_quotes() -> None:
    assert _literal("a'b") == "'a''b'"
    assert _literal(None) == "NULL"
    assert _literal(True) == "1"
    assert _literal(12) == "12"
    assert _literal(1.5) == "1.5"
