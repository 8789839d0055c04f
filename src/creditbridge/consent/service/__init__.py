"""Use cases of consent: an institution requests, the enterprise decides, the platform expires;
every read of enterprise data passes :func:`authorize_read` — throttle, consent, one use counted,
a refusal audited and tallied — and is logged for the enterprise and audited, all in the caller's
transaction.

One module per topic (lifecycle, reads, notifications, receipts); this package re-exports their
public names, so callers import ``creditbridge.consent.service`` as before.
"""

from __future__ import annotations

from creditbridge.consent.service.lifecycle import (
    MAX_USES_LIMIT,
    MAX_VALIDITY_DAYS,
    access_consent,
    approve,
    decide,
    expire_due,
    grant,
    grant_to_institution,
    grantable_institutions,
    institution_names,
    list_for_institution,
    list_for_subject,
    pause,
    reject,
    request_consent,
    resume,
    revoke,
)
from creditbridge.consent.service.notifications import (
    list_notifications,
)
from creditbridge.consent.service.reads import (
    ReadResult,
    RecordView,
    authorize_read,
    find_usable_consent,
    list_access_log,
    read_records,
    record_derived_read,
    require_valid,
)
from creditbridge.consent.service.receipts import (
    Letter,
    PublicCheck,
    authorization_letter,
    check_by_reference,
    receipt,
    receipt_artefact,
    receipt_times,
    verification_path,
    verify_receipt,
)

__all__ = [
    "MAX_USES_LIMIT",
    "MAX_VALIDITY_DAYS",
    "Letter",
    "PublicCheck",
    "ReadResult",
    "RecordView",
    "access_consent",
    "approve",
    "authorization_letter",
    "authorize_read",
    "check_by_reference",
    "decide",
    "expire_due",
    "find_usable_consent",
    "grant",
    "grant_to_institution",
    "grantable_institutions",
    "institution_names",
    "list_access_log",
    "list_for_institution",
    "list_for_subject",
    "list_notifications",
    "pause",
    "read_records",
    "receipt",
    "receipt_artefact",
    "receipt_times",
    "record_derived_read",
    "reject",
    "request_consent",
    "require_valid",
    "resume",
    "revoke",
    "verification_path",
    "verify_receipt",
]
