"""Imports every module's tables so that Alembic and the test schema see the whole metadata."""

from creditbridge.access import models as access_models
from creditbridge.audit import models as audit_models
from creditbridge.catalog import models as catalog_models
from creditbridge.consent import models as consent_models
from creditbridge.core.db import Base
from creditbridge.delivery import models as delivery_models
from creditbridge.demo import models as demo_models
from creditbridge.exchange import models as exchange_models
from creditbridge.ingest import models as ingest_models
from creditbridge.jobs import models as jobs_models
from creditbridge.marketplace import models as marketplace_models
from creditbridge.reports import models as reports_models
from creditbridge.scoring import models as scoring_models
from creditbridge.subjects import models as subjects_models

__all__ = [
    "Base",
    "access_models",
    "audit_models",
    "catalog_models",
    "consent_models",
    "delivery_models",
    "demo_models",
    "exchange_models",
    "ingest_models",
    "jobs_models",
    "marketplace_models",
    "reports_models",
    "scoring_models",
    "subjects_models",
]
