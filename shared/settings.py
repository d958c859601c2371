"""Settings shared by every service, read from the environment (prefix per service)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

#: The repository root: `var/` (databases, dev keys) lives beside the code by default.
ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"


class ServiceSettings(BaseSettings):
    """What every service needs; each service subclasses it with its own env prefix."""

    # Errors never echo the input: it holds passwords and keys, and they end up in logs.
    model_config = SettingsConfigDict(env_prefix="DDK_", extra="ignore", hide_input_in_errors=True)

    service_name: str = "service"
    api_version: str = "1.0.0"
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""  # how clients reach this service; defaults to http://host:port

    database_url: str = ""  # empty: sqlite file var/<service>.db
    # TLS to PostgreSQL (ignored for SQLite). `prefer` leaves it to the driver and the URL
    # (TLS if offered, unverified); production sets `verify-full`: the server's certificate
    # must chain to `database_sslrootcert` (empty: the system's CAs) and name the URL's host.
    database_sslmode: Literal["prefer", "disable", "verify-full"] = "prefer"
    database_sslrootcert: str = ""
    database_sslcert: str = ""  # a client certificate, if the server asks for one
    database_sslkey: str = ""
    # How long a request waits for another process's SQLite write lock before a 503.
    sqlite_busy_timeout_ms: int = 5000

    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092")
    kafka_topic_partitions: int = 4
    kafka_replication_factor: int = 1
    kafka_session_timeout_ms: int = 10_000
    kafka_heartbeat_interval_ms: int = 1_000
    # How long the broker may hold a consumer's fetch when it has nothing new. Kafka answers
    # as soon as a message arrives, so this only sets how often an idle consumer asks; the
    # embedded broker answers only when the time is up (measured: a message waited 81 ms
    # at the median and up to 243 ms with aiokafka's 500; 9 and 29 ms with 50).
    kafka_fetch_max_wait_ms: int = Field(default=50, gt=0, le=500)
    kafka_max_message_bytes: int = 1_048_576
    # Transport security. PLAINTEXT is for the embedded broker only; production uses SASL_SSL
    # (SCRAM) or SSL with a client certificate (mutual TLS). The broker's name is always checked.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: str = ""  # empty: the system's trusted CAs
    kafka_ssl_certfile: str = ""
    kafka_ssl_keyfile: str = ""
    # On for Apache Kafka (no duplicates from the producer's own retries); off for the
    # embedded broker, which fails InitProducerId.
    kafka_enable_idempotence: bool = False

    # CloudEvents `source` (NL GOV profile: a URN that names the producing system).
    event_source: str = ""

    # Outbox relay and consumer behaviour.
    relay_poll_interval_s: float = 0.2
    relay_batch_size: int = 500
    # After a commit wakes the relay it waits this long, so one round publishes what several
    # commits wrote (as a producer's linger.ms): under intake load, fewer and larger record
    # batches and mark-sent transactions. It adds at most this much to an event's latency.
    relay_linger_s: float = 0.05
    consumer_max_attempts: int = 4
    consumer_backoff_s: float = 0.05
    consumer_enabled: bool = True
    outbox_max_age_s: float = 60.0
    relay_enabled: bool = True

    # Authentication: a JWKS URL (production) or a PEM public key (embedded default).
    auth_jwks_url: str = ""
    auth_public_key_file: str = str(VAR / "keys" / "issuer-public.pem")
    auth_issuer: str = "urn:dichtdekloof:dev-issuer"
    auth_audience: str = "dichtdekloof-api"
    auth_algorithms: list[str] = ["ES256"]
    auth_leeway_s: int = 30
    # A token may expire at most this far ahead: a stolen token of 10^20 s is no key for life.
    auth_token_max_lifetime_s: int = 24 * 3600
    # JWKS: how long one fetch may take, how long its keys are used, and how soon an unknown
    # `kid` may make the service fetch again (a flood of invented kids fetches once).
    auth_jwks_timeout_s: float = 2.0
    auth_jwks_cache_s: float = 300.0
    auth_jwks_min_refresh_s: float = 10.0

    cors_allow_origins: list[str] = []
    # Per verified principal (organisation + subject), else per client address; 0: off.
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 500
    log_level: str = "INFO"
    log_json: bool = True
    # OpenTelemetry traces go to this OTLP/HTTP collector (e.g. http://otel-collector:4318);
    # empty: tracing is off and costs nothing.
    otlp_endpoint: str = ""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # A service reads DDK_<SERVICE>_X first, then the platform-wide DDK_X.
        platform = EnvSettingsSource(settings_cls, env_prefix="DDK_")
        return (init_settings, env_settings, platform, file_secret_settings)

    @model_validator(mode="after")
    def _transport_security_is_coherent(self) -> Self:
        """Refuse at start-up what would connect without the security the operator meant."""
        name = self._variable
        errors: list[str] = []
        tls = self.kafka_security_protocol != "PLAINTEXT"
        sasl = self.kafka_security_protocol == "SASL_SSL"
        if sasl:
            errors += [f"{name('kafka_security_protocol')}=SASL_SSL needs {name(f)}"
                       for f in ("kafka_sasl_username", "kafka_sasl_password")
                       if not _given(getattr(self, f))]
        else:
            errors += [f"{name(f)} is set but only used with "
                       f"{name('kafka_security_protocol')}=SASL_SSL"
                       for f in ("kafka_sasl_username", "kafka_sasl_password")
                       if _given(getattr(self, f))]
        kafka_files = ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile")
        if not tls:
            errors += [f"{name(f)} is set but {name('kafka_security_protocol')} is PLAINTEXT"
                       for f in kafka_files if getattr(self, f)]
        errors += _pair(self, "kafka_ssl_certfile", "kafka_ssl_keyfile")
        database_files = ("database_sslrootcert", "database_sslcert", "database_sslkey")
        if self.database_sslmode != "verify-full":
            errors += [f"{name(f)} is set but only used with {name('database_sslmode')}"
                       "=verify-full" for f in database_files if getattr(self, f)]
        errors += _pair(self, "database_sslcert", "database_sslkey")
        errors += [f"{name(f)}: no readable file {getattr(self, f)}"
                   for f in (*kafka_files, *database_files)
                   if getattr(self, f) and not os.access(getattr(self, f), os.R_OK)]
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def _variable(self, field: str) -> str:
        """The environment variable(s) a field is read from, for messages."""
        prefix = self.model_config.get("env_prefix", "DDK_")
        platform = f"DDK_{field.upper()}"
        return platform if prefix == "DDK_" else f"{prefix}{field.upper()} (or {platform})"

    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        VAR.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{VAR / (self.service_name + '.db')}"

    def cloudevents_source(self) -> str:
        return self.event_source or f"urn:nl:dichtdekloof:{self.service_name}"

    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


def _given(value: str | SecretStr) -> bool:
    return bool(value.get_secret_value() if isinstance(value, SecretStr) else value)


def _pair(settings: ServiceSettings, cert: str, key: str) -> list[str]:
    """A certificate and its private key come together."""
    if bool(getattr(settings, cert)) == bool(getattr(settings, key)):
        return []
    given, missing = (cert, key) if getattr(settings, cert) else (key, cert)
    return [f"{settings._variable(given)} needs {settings._variable(missing)}"]
