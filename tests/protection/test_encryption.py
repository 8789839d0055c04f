"""Level-4+ fields at rest: SM4-GCM envelopes, decryption by key id, rotation."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.audit.models import AuditEvent
from creditbridge.catalog import service as catalog_service
from creditbridge.core.actors import CONSOLE
from creditbridge.core.crypto import DecryptionFailed
from creditbridge.protection import service
from creditbridge.protection.domain import is_envelope, make_envelope, open_envelope

K1 = base64.b64encode(b"1" * 16).decode()
K2 = base64.b64encode(b"2" * 16).decode()
RING1 = service.parse_key_ring(f"k1:{K1}")
RING2 = service.parse_key_ring(f"k1:{K1},k2:{K2}")


@dataclass(frozen=True)
class F:
    code: str
    classification_level: int


@dataclass(frozen=True)
class D:
    code: str
    fields: list[F] = field(default_factory=list)


IDENTITY = D("legal_rep_identity", [F("person_name", 3), F("id_number", 4), F("iris", 5)])
DATA = {"person_name": "王五", "id_number": "340102198001011234", "iris": {"a": [1, 2]}, "n": None}


def test_round_trip_encrypts_only_level_4_and_above() -> None:
    stored = service.protect_record(IDENTITY, DATA, ring=RING1)
    assert stored["person_name"] == "王五"
    assert is_envelope(stored["id_number"])
    assert is_envelope(stored["iris"])
    assert "340102" not in str(stored)
    assert open_envelope(stored["id_number"])[0] == "k1"
    assert service.reveal_record(IDENTITY.code, stored, ring=RING1) == DATA


def test_protect_is_idempotent_on_envelopes() -> None:
    stored = service.protect_record(IDENTITY, DATA, ring=RING1)
    assert service.protect_record(IDENTITY, stored, ring=RING2) == stored


def test_a_ciphertext_moved_to_another_field_does_not_decrypt() -> None:
    stored = service.protect_record(IDENTITY, DATA, ring=RING1)
    swapped = {**stored, "iris": stored["id_number"]}
    with pytest.raises(DecryptionFailed):
        service.reveal_record(IDENTITY.code, swapped, ring=RING1)


def test_a_tampered_token_does_not_decrypt() -> None:
    stored = service.protect_record(IDENTITY, DATA, ring=RING1)
    key_id, token = open_envelope(stored["id_number"])
    bad = make_envelope(key_id, token[:-1] + bytes([token[-1] ^ 1]))
    with pytest.raises(DecryptionFailed):
        service.reveal_record(IDENTITY.code, {**stored, "id_number": bad}, ring=RING1)


def test_unknown_key_id_is_reported() -> None:
    stored = service.protect_record(IDENTITY, DATA, ring=RING2)
    with pytest.raises(service.UnknownDataKey):
        service.reveal_record(IDENTITY.code, stored, ring=RING1)


def test_old_values_still_decrypt_after_the_current_key_changes() -> None:
    old = service.protect_record(IDENTITY, DATA, ring=RING1)
    assert service.reveal_record(IDENTITY.code, old, ring=RING2) == DATA


@pytest.mark.parametrize(
    "spec", ["", "k1", "k1:notbase64!", f"k1:{base64.b64encode(b'short').decode()}"]
)
def test_bad_key_rings_are_refused(spec: str) -> None:
    from creditbridge.core.config import InsecureConfiguration

    with pytest.raises(InsecureConfiguration):
        service.parse_key_ring(spec)


def test_rotation_reencrypts_in_batches_and_is_audited(session: Session) -> None:
    import factories
    from creditbridge.core.clock import utc_now
    from creditbridge.subjects.models import Record

    catalog_service.ensure_default_catalog(session)
    spec = catalog_service.bundled_catalog().dataset("legal_rep_identity")
    now = utc_now()
    provider = factories.provider(session)
    batch = factories.batch(session, provider, dataset=spec.code)
    subject = factories.subject(session)
    # Stored under RING1 by hand: the factory seals with the configured ring.
    for n in range(7):
        session.add(
            Record(
                subject_id=subject.id,
                dataset_code=spec.code,
                natural_key=str(n),
                version=1,
                status="current",
                event_date=None,
                data=service.protect_record(
                    spec, {"id_number": f"34010219800101{n:04d}"}, ring=RING1
                ),
                digest="0" * 64,
                provider_id=provider.id,
                batch_id=batch.id,
                source_row=n,
                received_at=now,
            )
        )
    session.flush()
    outcome = service.rotate(session, CONSOLE, datasets=[spec], ring=RING2, batch_size=3)
    assert (outcome.examined, outcome.reencrypted, outcome.key_id) == (7, 7, "k2")
    session.expire_all()
    rows = session.scalars(
        select(Record).where(Record.dataset_code == spec.code).order_by(Record.id)
    ).all()
    assert all(open_envelope(r.data["id_number"])[0] == "k2" for r in rows)
    assert [
        service.reveal_record(spec.code, r.data, ring=RING2)["id_number"][-4:] for r in rows
    ] == [f"{n:04d}" for n in range(7)]
    again = service.rotate(session, CONSOLE, datasets=[spec], ring=RING2)
    assert again.reencrypted == 0
    rotations = select(AuditEvent.action).where(AuditEvent.action.like("keys.%"))
    assert session.scalars(rotations).all() == ["keys.rotate", "keys.rotate"]


def test_signing_key_is_generated_in_development_and_refused_in_production(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from creditbridge.core.config import InsecureConfiguration, Settings

    path = tmp_path / "keys" / "node.pem"
    key = service.signing_key(Settings(signing_key_path=str(path), env="development"))
    assert path.is_file()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert (
        service.signing_key(Settings(signing_key_path=str(path), env="development")).public_key
        == key.public_key
    )
    with pytest.raises(InsecureConfiguration):
        service.signing_key(
            Settings(signing_key_path=str(tmp_path / "missing.pem"), env="production")
        )
