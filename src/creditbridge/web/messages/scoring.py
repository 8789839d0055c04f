"""Page strings of credit evaluation: key → (中文, English)."""

from typing import Final

MESSAGES: Final[dict[str, tuple[str, str]]] = {}
