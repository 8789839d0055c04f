"""Tables of reports."""

from __future__ import annotations

from creditbridge.core.db import Base  # noqa: F401
