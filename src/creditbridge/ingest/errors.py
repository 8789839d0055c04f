"""Errors of collection. A whole delivery that cannot be read is not an error of the request: it
is a refused batch with one report line (:class:`~creditbridge.ingest.readers.DeliveryUnreadable`
carries its code and reason)."""

from __future__ import annotations

from creditbridge.core.errors import Forbidden, ValidationFailed
from creditbridge.ingest.readers import DeliveryUnreadable

__all__ = ["DeliveryUnreadable", "NotYourProvider", "RowsMalformed"]


class NotYourProvider(Forbidden):
    """Raised when a provider's user or API client delivers for, or reads the batches of, another
    provider."""

    code = "CB-INGEST-NOT-YOUR-PROVIDER"
    title = "只能为本单位提交数据"


class RowsMalformed(ValidationFailed):
    """Raised when an API request body is not a batch (no rows, rows not objects…)."""

    code = "CB-INGEST-MALFORMED"
