"""JSON routes of the trust layer: ``GET /api/v1/whoami`` proves a client's signing works."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from creditbridge.web.auth import SignedClient

router = APIRouter(prefix="/api/v1", tags=["access"])


class WhoAmI(BaseModel):
    key_id: str
    kind: str
    institution_id: int | None
    provider_id: int | None


@router.get("/whoami", response_model=WhoAmI, summary="签名自检 Check request signing")
@router.post(
    "/whoami", response_model=WhoAmI, summary="签名自检（含请求体）Check signing with a body"
)
def whoami(client: SignedClient) -> WhoAmI:
    """Answers with the calling client's identity when the request's signature is valid."""
    return WhoAmI(
        key_id=client.name,
        kind=client.kind.value,
        institution_id=client.institution_id,
        provider_id=client.provider_id,
    )
