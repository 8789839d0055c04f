"""Level-4 fields through the real write paths: ingest stores them SM4-GCM encrypted, an unchanged
re-delivery is still recognised, rotation re-encrypts, and readers see the plaintext."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from creditbridge.access import service as access_service
from creditbridge.catalog import service as catalog_service
from creditbridge.core.actors import CONSOLE
from creditbridge.core.clock import utc_now
from creditbridge.core.config import IngestSettings
from creditbridge.ingest import service as ingest
from creditbridge.ingest.models import Provider, ProviderDataset
from creditbridge.ingest.service import pipeline
from creditbridge.protection import service as protection
from creditbridge.protection.domain import is_envelope, open_envelope
from creditbridge.subjects.models import Record, Subject

USCC = ("91340102MALEEBY51U", "91340102MARM5PG54P")
ROWS = [
    {
        "uscc": USCC[0],
        "person_name": "王五",
        "id_type": "居民身份证",
        "id_number": "340102198001011234",
        "mobile": "13912345678",
        "effective_date": "2024-03-01",
    },
    {
        "uscc": USCC[1],
        "person_name": "赵六",
        "id_type": "居民身份证",
        "id_number": "34010219850505432X",
        "effective_date": "2023-07-15",
    },
]


@pytest.fixture
def provider(session: Session) -> Provider:
    catalog_service.ensure_default_catalog(session)
    made = Provider(
        code="samr-ah", name="安徽省市场监督管理局", kind="department",
        division_code="340000", created_at=utc_now(),
    )  # fmt: skip
    session.add(made)
    session.flush()
    session.add(ProviderDataset(provider_id=made.id, dataset_code="legal_rep_identity"))
    session.flush()
    return made


def deliver(session: Session, provider: Provider, rows: list[dict[str, Any]], key: str) -> Any:
    return ingest.ingest_batch(
        session, CONSOLE, provider_id=provider.id, dataset_code="legal_rep_identity",
        batch_key=key, source=rows, filename=None, channel="api", threshold=0.0,
        settings=IngestSettings(),
    )  # fmt: skip


def stored_rows(session: Session) -> list[tuple[str, str, str]]:
    """(natural key, data as the store returns it as text, digest) of current records."""
    rows = session.execute(
        text(
            "SELECT natural_key, data, digest FROM subject_record "
            "WHERE dataset_code = 'legal_rep_identity' AND status = 'current' ORDER BY natural_key"
        )
    ).all()
    return [
        (key, data if isinstance(data, str) else orjson.dumps(data).decode(), digest)
        for key, data, digest in rows
    ]


def test_ingest_stores_the_identity_number_encrypted(session: Session, provider: Provider) -> None:
    outcome = deliver(session, provider, ROWS, "b1")
    assert (outcome.status, outcome.rows_new) == ("applied", 2)
    stored = stored_rows(session)
    assert len(stored) == 2
    spec = ingest.dataset_spec(session, "legal_rep_identity")
    for (_, raw, digest), row in zip(stored, ROWS, strict=True):
        assert row["id_number"] not in raw
        assert row["id_number"][-6:] not in raw
        data = orjson.loads(raw)
        assert is_envelope(data["id_number"])
        assert data["person_name"] == row["person_name"]  # level 3: stored as is (masked on screen)
        plain = protection.reveal_record("legal_rep_identity", data)
        assert plain == row
        # The digest is over the plaintext, keyed: not the plain SM3 anyone could recompute.
        assert digest == protection.record_digest(spec, row)
        from creditbridge.core.crypto import content_digest

        assert digest != content_digest(row)


def test_unchanged_redelivery_is_recognised_despite_fresh_nonces(
    session: Session, provider: Provider
) -> None:
    deliver(session, provider, ROWS, "b1")
    before = stored_rows(session)
    again = deliver(session, provider, ROWS, "b2")
    assert (again.rows_unchanged, again.rows_new, again.rows_updated) == (2, 0, 0)
    assert stored_rows(session) == before
    # No fingerprint of the delivered cells is kept for a sealed dataset: an unkeyed hash of an
    # ID number could be brute-forced. Recognition goes through the keyed digest instead.
    assert session.scalars(
        select(Record.source_fingerprint).where(Record.dataset_code == "legal_rep_identity")
    ).all() == [None, None]
    changed = [dict(ROWS[0], id_number="340102198001019999"), ROWS[1]]
    third = deliver(session, provider, changed, "b3")
    assert (third.rows_unchanged, third.rows_updated) == (1, 1)
    current = session.scalars(
        select(Record).where(
            Record.dataset_code == "legal_rep_identity",
            Record.status == "current",
            Record.natural_key.startswith(USCC[0]),
        )
    ).one()
    assert current.version == 2
    assert protection.reveal_record(current.dataset_code, current.data)["id_number"].endswith(
        "9999"
    )


def test_rotation_reencrypts_ingested_values_and_keeps_them_unchanged(
    session: Session, provider: Provider
) -> None:
    deliver(session, provider, ROWS, "b1")
    ring = protection.key_ring()
    rotated = protection.KeyRing(keys={**ring.keys, "k-next": b"9" * 16}, current="k-next")
    spec = ingest.dataset_spec(session, "legal_rep_identity")
    before = stored_rows(session)
    outcome = protection.rotate(session, CONSOLE, datasets=[spec], ring=rotated)
    assert outcome.reencrypted == 2
    session.expire_all()
    after = stored_rows(session)
    for (_, old_raw, old_digest), (_, new_raw, new_digest), row in zip(
        before, after, ROWS, strict=True
    ):
        assert new_raw != old_raw
        assert new_digest == old_digest
        data = orjson.loads(new_raw)
        assert open_envelope(data["id_number"])[0] == "k-next"
        assert row["id_number"] not in new_raw
        assert protection.reveal_record("legal_rep_identity", data, ring=rotated) == row
        with pytest.raises(protection.UnknownDataKey):
            protection.reveal_record("legal_rep_identity", data, ring=ring)
    # The digest key is rooted in the ring's first key, so rotation does not disturb dedup.
    assert protection.digest_key(rotated) == protection.digest_key(ring)


def test_registration_checks_the_decrypted_identity_number(
    session: Session, provider: Provider
) -> None:
    deliver(session, provider, ROWS, "b1")
    subject = session.scalars(select(Subject).where(Subject.uscc == USCC[0])).one()
    assert (
        access_service.verify_legal_representative(
            session, uscc=USCC[0], name="王五", id_tail="011234"
        )
        == subject.id
    )
    assert (
        access_service.verify_legal_representative(
            session, uscc=USCC[0], name="王五", id_tail="011235"
        )
        is None
    )
    assert (
        access_service.verify_legal_representative(
            session, uscc=USCC[1], name="赵六", id_tail="05432x"
        )
        is not None
    )


def test_forked_ingest_encrypts_too(
    session: Session, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    header = "统一社会信用代码,姓名,证件类型,证件号码,任职日期"
    lines = [header] + [
        f"{r['uscc']},{r['person_name']},{r['id_type']},{r['id_number']},{r['effective_date']}"
        for r in ROWS
    ]
    monkeypatch.setattr(pipeline, "PARALLEL_BYTES", 1)
    outcome = ingest.ingest_batch(
        session, CONSOLE, provider_id=provider.id, dataset_code="legal_rep_identity",
        batch_key="f1", source=("\n".join(lines) + "\n").encode(), filename="id.csv",
        channel="file", threshold=0.0, settings=IngestSettings(),
    )  # fmt: skip
    assert (outcome.status, outcome.rows_new) == ("applied", 2)
    for (_, raw, _), row in zip(stored_rows(session), ROWS, strict=True):
        assert row["id_number"] not in raw
        assert (
            protection.reveal_record("legal_rep_identity", orjson.loads(raw))["id_number"]
            == (row["id_number"])
        )


def test_rotation_encrypts_values_stored_before_encryption_at_rest(
    session: Session, provider: Provider
) -> None:
    deliver(session, provider, ROWS, "b1")
    first = session.scalars(
        select(Record).where(Record.dataset_code == "legal_rep_identity").order_by(Record.id)
    ).first()
    assert first is not None
    # A record written by an older version, its identity number in plaintext.
    first.data = protection.reveal_record("legal_rep_identity", first.data)
    session.flush()
    spec = ingest.dataset_spec(session, "legal_rep_identity")
    outcome = protection.rotate(session, CONSOLE, datasets=[spec])
    assert (outcome.examined, outcome.reencrypted) == (2, 1)
    session.expire_all()
    for _, raw, _ in stored_rows(session):
        assert not any(row["id_number"] in raw for row in ROWS)
    assert protection.rotate(session, CONSOLE, datasets=[spec]).reencrypted == 0
