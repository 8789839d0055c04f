"""Every domain's contribution to the analytics snapshot (:mod:`creditbridge.core.snapshot`).

A domain registers the tables it owns when its ``analytics`` module is imported; a domain that
reads another's table names it instead of importing it (scoring learns from the marketplace's
loans, while the marketplace reads grades from scoring). Entry points import this module so
that every table is registered before a snapshot is written, as ``creditbridge.models`` does
for the tables of the database.
"""

from creditbridge.ingest import analytics as ingest_analytics
from creditbridge.marketplace import analytics as marketplace_analytics
from creditbridge.reports import analytics as reports_analytics
from creditbridge.scoring import analytics as scoring_analytics

__all__ = ["ingest_analytics", "marketplace_analytics", "reports_analytics", "scoring_analytics"]
