"""Settings of the signals service (env DDK_SIGNALS_*, falling back to DDK_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import VAR, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DDK_SIGNALS_", extra="ignore")

    service_name: str = "signals"
    port: int = 8001

    # Key material (base64url, 256 bits). Empty: the embedded default generates dev keys once
    # into `dev_keys_file` (never committed; `var/` is ignored). Production sets all five.
    operational_pseudonym_key: str = ""
    statistics_pseudonym_key: str = ""
    field_keyring: str = ""  # "keyid:key,keyid2:key2" (old keys stay for decryption)
    field_active_key_id: str = ""
    # Keys the access log's hash chain (HMAC): whoever can write the database cannot re-chain.
    access_log_key: str = ""
    dev_keys_file: str = str(VAR / "keys" / "signals-keys.json")

    # Retention: how often the app purges expired personal data (0 disables the task).
    purge_interval_s: float = 3600.0
    # The access log's head goes to this topic every interval (0 disables the task), so a
    # verification can tell a cut-off tail; see accesslog/checkpoints.py.
    access_log_checkpoint_topic: str = "access-log-checkpoints.v1"
    access_log_checkpoint_interval_s: float = 60.0
    batch_max_items: int = 500
    # Partners read a referral's personal fields until this many days after its outcome (or
    # the signal's closure); a withdrawn referral ends at once.
    partner_access_grace_days: int = Field(default=30, ge=0)

    # Partner push (webhooks/). Production: only https targets outside loopback, private and
    # link-local ranges (SSRF); the dev configuration (`make run`) allows loopback http too.
    webhook_allow_loopback: bool = False
    webhook_enabled: bool = True  # the dispatcher; off in tests that drive it by hand
    webhook_connect_timeout_s: float = Field(default=2.0, gt=0)
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    # Retries: exponential from `base` (doubling, capped at `max`, with jitter) for `window`
    # seconds after the first attempt (about a day), then the delivery is dead-lettered.
    webhook_retry_base_s: float = Field(default=5.0, gt=0)
    webhook_retry_max_s: float = Field(default=3600.0, gt=0)
    webhook_retry_window_s: float = Field(default=86_400.0, gt=0)
    # A claimed delivery is leased this long: a process that died mid-delivery leaves it to
    # another (or to itself after a restart) when the lease runs out.
    webhook_lease_s: float = Field(default=30.0, gt=0)
    webhook_poll_interval_s: float = Field(default=1.0, gt=0)
    # At most this many requests in flight per subscription: a slow target waits alone.
    webhook_concurrency_per_target: int = Field(default=16, ge=1)
    # The delivery log (and the events behind it) is kept this long; a dead delivery can be
    # replayed until then.
    webhook_log_retention_days: int = Field(default=30, ge=1)
