"""Settings of the indicators service (env DDK_INDICATORS_*, falling back to DDK_*)."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import SettingsConfigDict

from services.indicators.computation.periods import GRACE_DAYS
from shared.settings import VAR, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DDK_INDICATORS_", extra="ignore")

    service_name: str = "indicators"
    port: int = 8002

    # The consumer group reading signals.v1 (a new group rebuilds the facts from the start).
    signals_consumer_group: str = "indicators.signals"
    # At most one area-indicators-updated event per area per interval (the publisher's tick);
    # with a snapshot worker, that worker writes the events (at most once per round).
    indicator_debounce_s: float = 1.0
    indicator_publisher_enabled: bool = True
    # Every area whose published values changed without a signal of its own (its composite
    # rank shifts with every other buurt's score; a protection changes cells across its
    # gemeente) gets an event at most this often: thousands nationally, where most change.
    indicator_republish_interval_s: float = 600.0
    # Where the snapshot worker runs (services/indicators/snapshots): `process`, a process of
    # its own started and watched by the service (a national computation must not stall the
    # API); `inline`, in the service's event loop (tiny set-ups); `off`, elsewhere (another
    # replica, or `python -m services.indicators.snapshots.process`).
    snapshot_worker: Literal["process", "inline", "off"] = "process"
    # How often the worker looks for marks, and readers for newer stored rows.
    snapshot_poll_s: float = 0.05
    snapshot_read_refresh_s: float = 0.05
    # The buurten's vulnerability index is derived again at most this often (a national
    # computation); an area's own figures are stored at every round.
    snapshot_index_interval_s: float = 2.0
    # Public cells are protected again at most this often (raw values are stored at every
    # round): at national intake each protection is up to seconds of CPU, and batching more
    # changes into one costs little more than one.
    snapshot_protect_interval_s: float = 5.0
    # Where protections and the index run (snapshots/protector.py): `process`, a child of
    # the worker's at a lower priority; `thread`, a thread beside the rounds; `auto`, a child
    # where the worker has a process of its own, a thread inline.
    snapshot_protection: Literal["auto", "process", "thread"] = "auto"
    # How long a read of a period not stored yet waits for the worker before a 503.
    snapshot_wait_s: float = 30.0
    # How long the first month with data (the lower bound of period parameters) is reused.
    period_bounds_cache_s: float = 60.0
    # Areas per indicator-snapshot-published part (each part stays well under 1 MiB).
    snapshot_areas_per_part: int = 100

    # Pseudonym retention (stream/retention.py): a period is settled, and the household
    # pseudonyms only it still needed are dropped, this long after its last month ended.
    # Signals refuses an observedAt more than 730 days back; 30 more days cover the time an
    # event may wait in the outbox or on the broker.
    late_signal_grace_days: int = 760
    # How often the retention clock looks for periods to settle (0 switches it off).
    pseudonym_retention_interval_s: float = 3600.0
    # The cell-key method's secret (base64url, 256 bits): record keys of households are a keyed
    # HMAC of their statistics pseudonym with it. Empty: the embedded default generates one
    # once into `dev_keys_file`. Production sets it; changing it changes every published noise.
    cell_key_secret: str = ""
    dev_keys_file: str = str(VAR / "keys" / "indicators-keys.json")
    # A period is final (its figures frozen for everyone but admins, and the only periods
    # that those who record signals may read) this many days after its last month ended.
    period_grace_days: int = GRACE_DAYS
