"""Tables of scoring."""

from __future__ import annotations

from creditbridge.core.db import Base  # noqa: F401
