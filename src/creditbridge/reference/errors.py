"""Errors raised by the reference rules.

Each is also a :class:`ValueError`, so pure callers can catch the builtin while the web and CLI
handlers render them through the platform error tree (``ValidationFailed`` → HTTP 422).
"""

from __future__ import annotations

from collections.abc import Mapping

from creditbridge.core.errors import Issue, PlatformError, ValidationFailed


class ReferenceInputError(ValidationFailed, ValueError):
    """Raised when input to a reference rule is malformed; ``issues`` names the field and reason."""

    code = "CB-REFERENCE-INPUT"

    def __init__(
        self,
        message: str,
        *,
        field: str,
        value: str | None = None,
        key: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        """``message`` is the Chinese text; ``key`` and ``params`` name it in the message tables
        (which this layer may not import, so the Chinese is written here too)."""
        issue = Issue(
            code=self.code, message=message, field=field, value=value, key=key, params=params
        )
        super().__init__(message, key=key, params=params, issues=[issue])
        self.field = field


class UnknownIndustry(ReferenceInputError):
    """Raised when an industry code is not a GB/T 4754-2017 section or division."""

    code = "CB-REFERENCE-INDUSTRY"


class AmbiguousIndustry(ReferenceInputError):
    """Raised when an industry code spans rows of the size table with different thresholds
    (e.g. division 70 holds both 房地产开发经营 and 物业管理); a finer code is needed."""

    code = "CB-REFERENCE-INDUSTRY-AMBIGUOUS"


class IndustryOutOfScope(ReferenceInputError):
    """Raised when the size rule does not cover the industry (金融业 has its own rule)."""

    code = "CB-REFERENCE-INDUSTRY-SCOPE"


class MissingIndicator(ReferenceInputError):
    """Raised when an indicator the industry's row needs (employees, revenue, assets) is None."""

    code = "CB-REFERENCE-SIZE-MISSING"


class InvalidIndicator(ReferenceInputError):
    """Raised when an indicator is negative, a float, or otherwise not an exact amount."""

    code = "CB-REFERENCE-SIZE-INVALID"


class UnknownVersion(ReferenceInputError):
    """Raised when a versioned table (size thresholds) has no version of that id."""

    code = "CB-REFERENCE-VERSION"


class CalendarOutOfRange(PlatformError, ValueError):
    """Raised when a date falls outside the years the holiday data covers.

    This is the platform's gap, not the caller's error: the State Council announces each year's
    holidays late in the previous year, and guessing would silently move legal deadlines. Upgrade
    ``chinese-calendar`` when it gains the new year.
    """

    code = "CB-CALENDAR-OUT-OF-RANGE"
