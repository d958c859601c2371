"""Settings of the signals service (env DDK_SIGNALS_*, falling back to DDK_*)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DDK_SIGNALS_", extra="ignore")

    service_name: str = "signals"
    port: int = 8001
