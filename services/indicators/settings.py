"""Settings of the indicators service (env DDK_INDICATORS_*, falling back to DDK_*)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DDK_INDICATORS_", extra="ignore")

    service_name: str = "indicators"
    port: int = 8002
