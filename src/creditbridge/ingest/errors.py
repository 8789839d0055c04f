"""Errors of collection. A whole delivery that cannot be read is not an error of the request: it
is a refused batch with one report line (:class:`~creditbridge.ingest.readers.DeliveryUnreadable`
carries its code and reason)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from creditbridge.core.errors import Conflict, Forbidden, ValidationFailed
from creditbridge.ingest.readers import DeliveryUnreadable

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "CatalogNotLoaded",
    "DeliveryUnreadable",
    "NotAssigned",
    "NotYourProvider",
    "ReasonRequired",
    "RowsMalformed",
]


class NotYourProvider(Forbidden):
    """Raised when a provider's user or API client delivers for, or reads the batches of, another
    provider."""

    code = "CB-INGEST-NOT-YOUR-PROVIDER"
    title = "只能为本单位提交数据"


class NotAssigned(Forbidden):
    """Raised when a delivery names a dataset that the shared-data list does not assign to its
    provider (the market regulator sending tax payments, say) — whoever sends it: the provider's
    user or API client, an operator on the upload page, the console or a connector.

    The refusal is audited (``ingest.delivery.not_assigned``) and must stay on record although the
    request fails: :attr:`kept_on_rollback` writes the event again after the entry point's unit of
    work (``web.deps.get_write_session``, ``cli.context.transaction``) has rolled back.
    """

    code = "CB-INGEST-NOT-ASSIGNED"
    title = "该数据项未分配给此数据提供单位"
    kept_on_rollback: Callable[[Session], None] | None = None


class CatalogNotLoaded(Conflict):
    """Raised when a delivery arrives before any shared-data list is loaded: a delivery is
    validated against the list, which the operator loads explicitly (``creditbridge catalog
    load``), never implicitly inside a delivery."""

    code = "CB-INGEST-NO-CATALOG"
    title = "尚未载入信用信息共享清单"


class ReasonRequired(ValidationFailed):
    """Raised when a person delivers for a provider that is not their own (an operator on the
    upload page) without stating why; the reason is audited with the batch, as the console's
    ``--reason`` is."""

    code = "CB-INGEST-REASON-REQUIRED"
    title = "代为提交须填写理由"


class RowsMalformed(ValidationFailed):
    """Raised when an API request body is not a batch (no rows, rows not objects…)."""

    code = "CB-INGEST-MALFORMED"
