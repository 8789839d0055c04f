"""The message tables, one per domain (``common`` for what every page shares), merged into
:data:`creditbridge.presentation.i18n.MESSAGES`.

One file per domain lets a domain grow its pages without editing a shared table; the merge
refuses a key defined twice, so two domains cannot silently overwrite each other's text."""

from creditbridge.presentation.messages.access import MESSAGES as ACCESS
from creditbridge.presentation.messages.audit import MESSAGES as AUDIT
from creditbridge.presentation.messages.catalog import MESSAGES as CATALOG
from creditbridge.presentation.messages.common import MESSAGES as COMMON
from creditbridge.presentation.messages.consent import MESSAGES as CONSENT
from creditbridge.presentation.messages.delivery import MESSAGES as DELIVERY
from creditbridge.presentation.messages.errors import MESSAGES as ERRORS
from creditbridge.presentation.messages.exchange import MESSAGES as EXCHANGE
from creditbridge.presentation.messages.home import MESSAGES as HOME
from creditbridge.presentation.messages.ingest import MESSAGES as INGEST
from creditbridge.presentation.messages.ingest_issues import MESSAGES as INGEST_ISSUES
from creditbridge.presentation.messages.jobs import MESSAGES as JOBS
from creditbridge.presentation.messages.labels import MESSAGES as LABELS
from creditbridge.presentation.messages.marketplace import MESSAGES as MARKETPLACE
from creditbridge.presentation.messages.reports import MESSAGES as REPORTS
from creditbridge.presentation.messages.scoring import MESSAGES as SCORING

__all__ = [
    "ACCESS",
    "AUDIT",
    "CATALOG",
    "COMMON",
    "CONSENT",
    "DELIVERY",
    "ERRORS",
    "EXCHANGE",
    "HOME",
    "INGEST",
    "INGEST_ISSUES",
    "JOBS",
    "LABELS",
    "MARKETPLACE",
    "REPORTS",
    "SCORING",
]
