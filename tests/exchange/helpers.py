"""Other nodes for the tests: a key of their own and their signed identity document."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from creditbridge.audit import service as audit_service
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.core.crypto import Sm2PrivateKey
from creditbridge.exchange import identity

TEST = Settings(env="test")

ASSESSMENT: dict[str, Any] = {
    "dengbao_level": 3,
    "dengbao_date": (utc_now().date() - timedelta(days=60)).isoformat(),
    "separated_administrators": True,
    "audit_retention_months": 12,
    "encryption_at_rest": True,
    "emergency_plan": True,
    "data_management_rules": True,
    "contacts": [{"name": "王敏", "role": "安全管理员", "phone": "0551-12345678"}],
}


def peer_document(
    code: str,
    level: str,
    *,
    url: str | None = None,
    key: Sm2PrivateKey | None = None,
    issued_at: datetime | None = None,
) -> dict[str, Any]:
    key = key or Sm2PrivateKey.generate()
    moment = issued_at or utc_now()
    return identity.issue(
        code=code,
        level=level,
        name=f"节点 {code}",
        url=url or f"https://xyd-{code}.example",
        keys=[
            identity.PublicKey(
                identity.key_id(key.public_key), key.public_key, moment - timedelta(days=1), None
            )
        ],
        signer=key,
        issued_at=moment,
    ).as_dict()


def audited(session: Session, action: str, code: str) -> list[Any]:
    """The audit events of ``action`` on the node or peer ``code``."""
    return audit_service.list_events(
        session,
        flt=audit_service.EventFilter(action=action, object_id=code),
        limit=100,
    )
