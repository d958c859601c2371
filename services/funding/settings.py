"""Settings of the funding service (env DDK_FUNDING_*, falling back to DDK_*)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DDK_FUNDING_", extra="ignore")

    service_name: str = "funding"
    port: int = 8003
    # Stale drafts are recomputed at most once per this many seconds (debounces bursts).
    recompute_interval_s: float = 5.0
    # Owner of the demo programme, and of programmes created before they had an owner
    # (migration fun0003 reads it): set it to the organisation that runs them before migrating.
    programme_owner_organisation: str = "demo-municipality"
