"""Page strings of credit reports, self-query and aggregates: key → (中文, English)."""

from typing import Final

MESSAGES: Final[dict[str, tuple[str, str]]] = {}
