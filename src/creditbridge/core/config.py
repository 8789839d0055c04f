"""Settings read from ``CREDITBRIDGE_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

NodeLevel = Literal["national", "provincial", "city", "county"]


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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
