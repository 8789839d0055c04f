"""Settings read from ``CREDITBRIDGE_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from creditbridge.core.errors import PlatformError

NodeLevel = Literal["national", "provincial", "city", "county"]

# Known to everyone who reads the repository, so usable only outside production.
DEVELOPMENT_SECRET_KEY = "creditbridge-development-secret-do-not-use-in-production"  # noqa: S105


class InsecureConfiguration(PlatformError):
    """Raised when production runs with a development default (a secret from the repository)."""

    code = "CB-INSECURE-CONFIG"


class Settings(BaseSettings):
    """One node's configuration. Every field can be set as ``CREDITBRIDGE_<FIELD>``."""

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

    # --- Trust layer (consent, receipts, encryption at rest) ----------------------------------
    signing_key_path: str = Field(
        default="var/keys/node-signing-key.pem",
        description="PEM PKCS#8 SM2 key that signs consent receipts; generated in development "
        "when missing, never in production",
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
