"""Page strings of the financing marketplace: key → (中文, English)."""

from typing import Final

MESSAGES: Final[dict[str, tuple[str, str]]] = {}
