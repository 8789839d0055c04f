"""Message tables of the later modules, one file each, merged into :data:`creditbridge.web.i18n.MESSAGES`.

Keeping one file per module lets the modules grow their pages without editing one shared table."""

from creditbridge.web.messages.marketplace import MESSAGES as MARKETPLACE
from creditbridge.web.messages.reports import MESSAGES as REPORTS
from creditbridge.web.messages.scoring import MESSAGES as SCORING

__all__ = ["MARKETPLACE", "REPORTS", "SCORING"]
