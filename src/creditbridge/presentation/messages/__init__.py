"""Message tables of the later modules, one file each, merged into :data:`creditbridge.presentation.i18n.MESSAGES`.

Keeping one file per module lets the modules grow their pages without editing one shared table."""

from creditbridge.presentation.messages.marketplace import MESSAGES as MARKETPLACE
from creditbridge.presentation.messages.reports import MESSAGES as REPORTS
from creditbridge.presentation.messages.scoring import MESSAGES as SCORING

__all__ = ["MARKETPLACE", "REPORTS", "SCORING"]
