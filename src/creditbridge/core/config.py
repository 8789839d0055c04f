"""Settings read from ``CREDITBRIDGE_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from creditbridge.core.errors import PlatformError

NodeLevel = Literal["national", "provincial", "city", "county"]

# Known to everyone who reads the repository, so usable only outside production.
DEVELOPMENT_SECRET_KEY = "creditbridge-development-secret-do-not-use-in-production"  # noqa: S105


class InsecureConfiguration(PlatformError):
    """Raised when production runs with a development default (a secret from the repository)."""

    code = "CB-INSECURE-CONFIG"


class IngestSettings(BaseSettings):
    """``CREDITBRIDGE_INGEST_*``. The reject threshold is the share of rejected rows above which
    a batch is refused whole; per dataset, e.g.
    ``CREDITBRIDGE_INGEST_REJECT_THRESHOLDS='{"penalty": 0.0, "utility_power": 0.1}'``.

    The XLSX guard's limits were top-level settings at first: their old names
    (``CREDITBRIDGE_XLSX_MAX_*``) are still read, after the group's own."""

    model_config = SettingsConfigDict(
        env_prefix="CREDITBRIDGE_INGEST_", extra="ignore", populate_by_name=True
    )

    reject_threshold: float = Field(default=0.05, ge=0.0, le=1.0)
    reject_thresholds: dict[str, float] = Field(default_factory=dict)
    chunk_rows: int = Field(default=5000, ge=1, le=100_000)
    sqlite_cache_mb: int = Field(
        default=128,
        ge=1,
        le=4096,
        description="SQLite page cache while a batch is applied (the connection default is 2 MB)",
    )

    xlsx_max_uncompressed_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=1,
        validation_alias=AliasChoices(
            "CREDITBRIDGE_INGEST_XLSX_MAX_UNCOMPRESSED_BYTES",
            "CREDITBRIDGE_XLSX_MAX_UNCOMPRESSED_BYTES",
        ),
        description="largest declared uncompressed size of all parts of an uploaded XLSX",
    )
    xlsx_max_part_bytes: int = Field(
        default=128 * 1024 * 1024,
        ge=1,
        validation_alias=AliasChoices(
            "CREDITBRIDGE_INGEST_XLSX_MAX_PART_BYTES", "CREDITBRIDGE_XLSX_MAX_PART_BYTES"
        ),
        description="largest declared size of an XLSX part that openpyxl reads whole (shared "
        "strings, styles, the workbook: every part but the worksheets, which it streams)",
    )

    def threshold_for(self, dataset_code: str) -> float:
        return self.reject_thresholds.get(dataset_code, self.reject_threshold)


class CollectionSettings(BaseSettings):
    """``CREDITBRIDGE_COLLECTION_*``: the bar a dataset must meet to count as collected."""

    model_config = SettingsConfigDict(env_prefix="CREDITBRIDGE_COLLECTION_", extra="ignore")

    bar_timeliness: float = 0.95
    bar_coverage: float = 0.90
    bar_completeness: float = 0.98
    freshness_months: int = Field(
        default=3, description="an event dataset with no delivery for longer is not live"
    )
    panel_months: int = 12


class WorkerSettings(BaseSettings):
    """``CREDITBRIDGE_WORKER_*``: how the worker runs jobs and sends the outbox."""

    model_config = SettingsConfigDict(env_prefix="CREDITBRIDGE_WORKER_", extra="ignore")

    poll_seconds: float = Field(
        default=0.25, gt=0, le=60, description="how often an idle worker looks for due work"
    )
    job_concurrency: int = Field(default=2, ge=1, le=32, description="jobs run at once")
    job_lease_seconds: int = Field(
        default=300,
        ge=1,
        description="a running job's lease, renewed while it runs; a worker killed mid-job loses "
        "it and the job is claimed again once it expires",
    )
    delivery_concurrency: int = Field(
        default=32, ge=1, le=1024, description="webhook requests in flight at once"
    )
    delivery_batch: int = Field(default=200, ge=1, le=5000, description="deliveries per claim")
    delivery_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="a receiver that takes longer has failed"
    )
    delivery_lease_seconds: int = Field(
        default=120,
        ge=1,
        description="a claimed delivery's lease; one whose worker died is sent again after it",
    )
    feed_retention_days: int = Field(
        default=30, ge=1, description="outbox messages (and feed cursors) kept this long"
    )
    feed_files_dir: Path | None = Field(
        default=None, description="nightly feed files; default: <data_dir>/feeds"
    )
    metrics_token: str = Field(
        default="",
        description="bearer token a Prometheus scraper presents at /metrics (operators' "
        "sessions are accepted too); empty: sessions only",
    )


class WebhookSettings(BaseSettings):
    """``CREDITBRIDGE_WEBHOOKS_*``: where institutions' webhook endpoints may point."""

    model_config = SettingsConfigDict(env_prefix="CREDITBRIDGE_WEBHOOKS_", extra="ignore")

    allow_loopback: bool = Field(
        default=False,
        description="allow http:// and loopback receivers (127.0.0.1, ::1): tests and the demo "
        "only; private and link-local addresses stay refused",
    )


class Settings(BaseSettings):
    """One node's configuration. Every field can be set as ``CREDITBRIDGE_<FIELD>``; a group's
    fields as ``CREDITBRIDGE_<GROUP>_<FIELD>`` (each group reads its own prefix)."""

    model_config = SettingsConfigDict(env_prefix="CREDITBRIDGE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/creditbridge.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db",
    )
    node_code: str = Field(
        default="340000", description="GB/T 2260 code of the region this node serves"
    )
    node_name: str = Field(default="安徽省融资信用服务平台")
    node_level: NodeLevel = "provincial"
    default_language: Literal["zh", "en"] = "zh"
    timezone: str = "Asia/Shanghai"
    sql_echo: bool = False
    data_dir: Path | None = Field(
        default=None,
        description="the node's files (analytics snapshots…); default: the SQLite file's "
        "folder, or var/ with PostgreSQL",
    )
    analytics_dir: Path | None = Field(
        default=None, description="root of the analytics snapshots; default: <data_dir>/analytics"
    )

    # --- Groups, each read from its own prefix --------------------------------------------------
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    collection: CollectionSettings = Field(default_factory=CollectionSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)

    # --- Trust layer (access) -----------------------------------------------------------------
    env: Literal["development", "test", "production"] = Field(
        default="development",
        description="production refuses development defaults such as the built-in secret key",
    )
    secret_key: str = Field(
        default=DEVELOPMENT_SECRET_KEY,
        description="master secret: SM4 keys for TOTP and HMAC client secrets are derived from it",
    )
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    signature_skew_seconds: int = 300
    nonce_retention_seconds: int = 3600
    api_rate_limit_per_minute: int = 600
    abuse_refusals_per_hour: int = Field(
        default=20, description="consent refusals in one hour that throttle an institution"
    )
    abuse_volume_factor: int = Field(
        default=10, description="reads above this multiple of the usual hourly volume are flagged"
    )
    abuse_volume_floor: int = Field(
        default=500, description="reads per hour below which volume is never flagged"
    )
    abuse_throttle_minutes: int = 60
    # Issue 21 finding 3: guessing a legal representative, or spraying passwords, is bounded.
    register_attempts_per_code: int = Field(
        default=5, ge=1, description="failed registration checks per enterprise code per window"
    )
    register_attempts_per_address: int = Field(
        default=20, ge=1, description="failed registration checks per client address per window"
    )
    login_failures_per_address: int = Field(
        default=20, ge=1, description="failed logins per client address per window (any account)"
    )
    attempt_window_minutes: int = Field(
        default=60, ge=1, description="the sliding window of the three limits above"
    )

    # --- Trust layer (consent, receipts, encryption at rest) ----------------------------------
    signing_key_path: str = Field(
        default="",
        description="PEM PKCS#8 SM2 key that signs consent receipts and reports; generated in "
        "development when missing, never in production; default: "
        "<data_dir>/keys/node-signing-key.pem",
    )
    data_keys: str = Field(
        default="",
        description="SM4 key ring for fields at rest: 'id:base64key,id:base64key' (16-byte keys); "
        "empty in development means one key derived from the secret key",
    )
    data_key_current: str = Field(
        default="",
        description="id of the key new values are encrypted with (the last one if empty)",
    )

    market_response_days: int = Field(
        default=2,
        ge=1,
        le=30,
        description="working days an institution has to answer a dispatched demand (融资对接响应时限)",
    )

    # --- Web edge: links, hosts, proxies, body sizes, /healthz (issue 21) ----------------------
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="scheme://host[:port] that every absolute link (report verification links "
        "and QR codes) is built from, never the request's Host header; required in production",
    )
    allowed_hosts: str = Field(
        default="",
        description="comma-separated Host header values the web server answers (add the one a "
        "load balancer's health check sends); empty means the public base URL's host, enforced "
        "in production only",
    )
    trusted_proxies: str = Field(
        default="",
        description="comma-separated addresses or networks of the reverse proxies whose "
        "X-Forwarded-For and X-Forwarded-Proto are believed; empty: nobody's",
    )
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1,
        description="largest request body of a form or JSON API call",
    )
    max_upload_bytes: int = Field(
        default=1024 * 1024 * 1024, ge=1, description="largest request body of a batch upload"
    )
    health_details: bool = Field(
        default=False,
        description="/healthz shows version, database and revision to every caller (set it only "
        "on an internal port); otherwise only signed-in operators see them",
    )
    pool_timeout_seconds: float = Field(
        default=3.0,
        gt=0,
        description="how long a request waits for a free database connection before it is "
        "answered 503 with Retry-After (CB-BUSY)",
    )
    max_in_flight: int = Field(
        default=32,
        ge=1,
        description="requests one worker serves at once; past it 503 with Retry-After (CB-BUSY) "
        "instead of an unbounded queue (/healthz and static files are exempt)",
    )
    pdf_workers: int = Field(
        default=2, ge=1, description="processes of one worker's PDF rendering pool"
    )
    max_pdf_renders: int = Field(
        default=2,
        ge=1,
        description="PDF renders one worker admits at once; past it 503 with Retry-After (CB-BUSY)",
    )
    pdf_in_process: bool = Field(
        default=False,
        description="render PDFs in the serving process, as before issue 22 (for the baseline of "
        "benchmarks/bench_pdf_burst.py only: a render then stalls the worker)",
    )

    @property
    def data_root(self) -> Path:
        """Beside the SQLite file by default, so that each database (a test's, a second node's on
        the same machine) keeps its own files."""
        if self.data_dir is not None:
            return self.data_dir
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            return Path(url.database).parent
        return Path("var")

    @property
    def analytics_root(self) -> Path:
        return self.analytics_dir or self.data_root / "analytics"

    @property
    def feed_files_root(self) -> Path:
        return self.worker.feed_files_dir or self.data_root / "feeds"

    @property
    def signing_key_file(self) -> Path:
        """The key lives with the database it signs for, not in the working directory."""
        if self.signing_key_path:
            return Path(self.signing_key_path)
        return self.data_root / "keys" / "node-signing-key.pem"

    def secret_key_bytes(self) -> bytes:
        """The master secret; refused in production while it is still the development default."""
        if self.env == "production" and self.secret_key == DEVELOPMENT_SECRET_KEY:
            raise InsecureConfiguration(
                "生产环境必须设置 CREDITBRIDGE_SECRET_KEY "
                "(production needs its own CREDITBRIDGE_SECRET_KEY)"
            )
        return self.secret_key.encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
