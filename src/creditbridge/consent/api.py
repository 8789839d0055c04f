"""JSON routes of consent: the platform's public signing key (to verify receipts), institutions'
reads under consent (signed API clients), and the enterprise's receipts and access log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy.orm import Session

from creditbridge.consent import service
from creditbridge.core.actors import Actor
from creditbridge.core.types import FilterDate, Id, Text
from creditbridge.protection import service as protection
from creditbridge.subjects import service as subjects_service
from creditbridge.web.auth import CurrentActor, SignedClient
from creditbridge.web.deps import ReadSession, WriteSession

router = APIRouter(tags=["consent 授权"])


@router.get(
    "/.well-known/creditbridge/signing-key.pem",
    response_class=PlainTextResponse,
    include_in_schema=False,
)
def signing_key_pem() -> PlainTextResponse:
    return PlainTextResponse(
        protection.signing_public_key().to_pem(), media_type="application/x-pem-file"
    )


@router.get("/api/v1/keys", summary="Platform public keys 平台公钥")
def keys() -> dict[str, Any]:
    """The SM2 public key that signs consent receipts; verify with `creditbridge consent verify`,
    GmSSL or OpenSSL (SM2 with SM3, user id 1234567812345678)."""
    public = protection.signing_public_key()
    return {
        "keys": [
            {
                "kid": public.fingerprint,
                "algorithm": "SM2-SM3",
                "use": "consent-receipt",
                "pem": public.to_pem(),
            }
        ]
    }


def _read(session: Session, actor: Actor, **kwargs: Any) -> dict[str, Any]:
    result = service.read_records(session, actor, **kwargs)
    return {
        "subject": {
            "id": result.subject_id,
            "uscc": result.subject_uscc,
            "name": result.subject_name,
        },
        "purpose": result.purpose,
        "consent": (
            {
                "id": result.consent.id,
                "reference": result.consent.reference,
                "uses": result.consent.uses,
                "max_uses": result.consent.max_uses,
            }
            if result.consent
            else None
        ),
        "records": [
            {
                "dataset": view.dataset_code,
                "natural_key": view.natural_key,
                "version": view.version,
                "event_date": view.event_date,
                "data": view.data,
            }
            for view in result.records
        ],
        "withheld_datasets": result.withheld,
    }


@router.get("/api/v1/subjects/{uscc}/records", summary="Read under consent 授权查询企业信息")
def read_subject_records(
    uscc: Text,
    client: SignedClient,
    session: WriteSession,
    purpose: Annotated[Text, Query(max_length=32)],
    categories: Annotated[list[Text], Query()],
    consent_id: Id | None = None,
    data_from: FilterDate | None = None,
    data_to: FilterDate | None = None,
) -> dict[str, Any]:
    """Refused with 403 `CB-CONSENT-*` (problem+json, with `reason`) when no consent covers the
    read; every read is logged for the enterprise and audited."""
    subject = subjects_service.get_subject_by_uscc_or_raise(session, uscc)
    return _read(
        session,
        client,
        subject_id=subject.id,
        purpose=purpose,
        categories=categories,
        consent_id=consent_id,
        data_from=data_from,
        data_to=data_to,
    )


@router.get("/api/v1/consents/{consent_id}/receipt", summary="Signed receipt 授权回执")
def consent_receipt(
    request: Request, consent_id: Annotated[Id, Path()], actor: CurrentActor, session: WriteSession
) -> Response:
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


@router.get("/api/v1/access-log", summary="Who read my data 查询记录")
def access_log(
    actor: CurrentActor,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    entries = service.list_access_log(session, actor, limit=limit, offset=offset)
    names = service.institution_names(
        session, [e.institution_id for e in entries if e.institution_id]
    )
    return {
        "entries": [
            {
                "id": e.id,
                "read_at": e.read_at,
                "institution": names.get(e.institution_id) if e.institution_id else None,
                "reader": e.actor_name,
                "purpose": e.purpose,
                "consent_id": e.consent_id,
                "datasets": e.datasets,
                "records": e.record_count,
            }
            for e in entries
        ]
    }
