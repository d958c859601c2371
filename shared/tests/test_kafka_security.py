"""Kafka transport security: the settings reach every aiokafka client the platform builds.

No TLS broker runs here (the embedded one speaks plaintext only), so the clients are built
through the platform's own factories and inspected, and the mutual-TLS handshake is made
against a local TLS endpoint that asks for a client certificate.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from pydantic import ValidationError

from shared.kafka import new_admin, new_consumer, new_producer
from shared.settings import ServiceSettings
from shared.tests.tls_material import Authority


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority(tmp_path_factory.mktemp("kafka-tls"))


def _clients(settings: ServiceSettings) -> list[tuple[str, Any]]:
    """(name, aiokafka's internal client) of a producer, a consumer and an admin client."""
    producer = new_producer(settings)
    consumer = new_consumer(settings, group_id="g")
    admin = new_admin(settings)
    return [("producer", producer.client), ("consumer", consumer._client),
            ("admin", admin._client)]


def _common_names(cert: Any) -> list[str]:
    return [value for rdn in cert["subject"] for key, value in rdn if key == "commonName"]


def _subjects(context: ssl.SSLContext) -> list[str]:
    return [name for cert in context.get_ca_certs() for name in _common_names(cert)]


async def test_sasl_ssl_settings_reach_producer_consumer_and_admin(authority: Authority) -> None:
    settings = ServiceSettings(
        kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="signals", kafka_sasl_password="s3cret",
        kafka_ssl_cafile=str(authority.ca))
    for name, client in _clients(settings):
        assert client._security_protocol == "SASL_SSL", name
        assert client._sasl_mechanism == "SCRAM-SHA-512", name
        assert client._sasl_plain_username == "signals", name
        assert client._sasl_plain_password == "s3cret", name
        context = client._ssl_context
        assert isinstance(context, ssl.SSLContext), name
        assert context.check_hostname is True, name
        assert context.verify_mode == ssl.CERT_REQUIRED, name
        assert _subjects(context) == ["ddk test CA"], name  # our CA, not only the system's


async def test_plaintext_is_the_embedded_default_without_tls_or_sasl() -> None:
    for name, client in _clients(ServiceSettings()):
        assert client._security_protocol == "PLAINTEXT", name
        assert client._ssl_context is None, name
        assert client._sasl_plain_username is None, name


async def test_idempotent_producer_is_switchable_and_off_by_default() -> None:
    assert new_producer(ServiceSettings())._txn_manager is None  # Tansu fails InitProducerId
    idempotent = new_producer(ServiceSettings(kafka_enable_idempotence=True))
    assert idempotent._txn_manager is not None


async def test_mutual_tls_presents_the_client_certificate_and_checks_the_broker_name(
        authority: Authority) -> None:
    """aiokafka itself handshakes with a broker that demands a client certificate."""
    server_cert = authority.issue("broker", hosts=("localhost",))
    client_cert = authority.issue("signals", client=True)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(authority.ca))
    server.load_cert_chain(server_cert.cert, server_cert.key)
    server.verify_mode = ssl.CERT_REQUIRED
    peers: list[str] = []

    async def handshaken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.extend(_common_names(writer.get_extra_info("peercert")))
        writer.close()  # not a broker: the client's bootstrap then fails, after the handshake

    listener = await asyncio.start_server(handshaken, "127.0.0.1", 0, ssl=server)
    port = listener.sockets[0].getsockname()[1]
    settings = ServiceSettings(
        kafka_bootstrap_servers=f"localhost:{port}", kafka_security_protocol="SSL",
        kafka_ssl_cafile=str(authority.ca), kafka_ssl_certfile=str(client_cert.cert),
        kafka_ssl_keyfile=str(client_cert.key))
    try:
        admin = new_admin(settings)
        with pytest.raises(KafkaConnectionError):
            await admin.start()
        await admin.close()
        assert peers == ["signals"]

        # The same endpoint reached by an address its certificate does not name: refused.
        wrong_name = settings.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{port}"})
        peers.clear()
        admin = new_admin(wrong_name)
        with pytest.raises(KafkaConnectionError):
            await admin.start()
        await admin.close()
        assert peers == []
    finally:
        listener.close()
        await listener.wait_closed()


def test_every_client_and_engine_is_built_where_the_transport_settings_apply() -> None:
    """A Kafka client or database engine made elsewhere would connect without TLS."""
    root = Path(__file__).resolve().parents[2]
    builders = {"AIOKafkaProducer(": "shared/kafka.py", "AIOKafkaConsumer(": "shared/kafka.py",
                "AIOKafkaAdminClient(": "shared/kafka.py", "create_engine(": "shared/db.py",
                "create_async_engine(": "shared/db.py", "asyncpg.connect(": "shared/db.py"}
    elsewhere = []
    for path in [*root.glob("shared/*.py"), *root.glob("services/*/**/*.py")]:
        where = path.relative_to(root).as_posix()
        if "/tests/" in where or path.name.startswith("bench"):
            continue
        code = path.read_text()
        elsewhere += [f"{where}: {call}" for call, home in builders.items()
                      if call in code and where != home]
    assert elsewhere == []


@pytest.mark.parametrize(("env", "named"), [
    ({"DDK_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "DDK_KAFKA_SASL_PASSWORD": "p"},
     ["DDK_KAFKA_SASL_USERNAME"]),
    ({"DDK_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
     ["DDK_KAFKA_SASL_USERNAME", "DDK_KAFKA_SASL_PASSWORD"]),
    ({"DDK_KAFKA_SASL_USERNAME": "u", "DDK_KAFKA_SASL_PASSWORD": "p"},
     ["DDK_KAFKA_SASL_USERNAME", "DDK_KAFKA_SECURITY_PROTOCOL"]),
    ({"DDK_KAFKA_SECURITY_PROTOCOL": "SSL", "DDK_KAFKA_SSL_CERTFILE": "{cert}"},
     ["DDK_KAFKA_SSL_KEYFILE"]),
    ({"DDK_KAFKA_SECURITY_PROTOCOL": "SSL", "DDK_KAFKA_SSL_KEYFILE": "{key}"},
     ["DDK_KAFKA_SSL_CERTFILE"]),
    ({"DDK_KAFKA_SSL_CAFILE": "{ca}"}, ["DDK_KAFKA_SSL_CAFILE", "DDK_KAFKA_SECURITY_PROTOCOL"]),
    ({"DDK_KAFKA_SECURITY_PROTOCOL": "SSL", "DDK_KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"},
     ["DDK_KAFKA_SSL_CAFILE"]),
    ({"DDK_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}, ["kafka_security_protocol"]),
    ({"DDK_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "DDK_KAFKA_SASL_MECHANISM": "PLAIN",
      "DDK_KAFKA_SASL_USERNAME": "u", "DDK_KAFKA_SASL_PASSWORD": "p"},
     ["kafka_sasl_mechanism"]),
])
def test_invalid_combinations_fail_at_load_naming_the_variables(
        env: dict[str, str], named: list[str], authority: Authority,
        monkeypatch: pytest.MonkeyPatch) -> None:
    client = authority.issue("client", client=True)
    files = {"cert": str(client.cert), "key": str(client.key), "ca": str(authority.ca)}
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(**files))
    with pytest.raises(ValidationError) as failure:
        ServiceSettings()
    for variable in named:
        assert variable in str(failure.value)


def test_a_service_names_its_own_variables_too(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from services.signals.settings import Settings

    monkeypatch.setenv("DDK_SIGNALS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ValidationError) as failure:
        Settings()
    assert "DDK_SIGNALS_KAFKA_SASL_USERNAME" in str(failure.value)
    assert "DDK_KAFKA_SASL_USERNAME" in str(failure.value)


def test_the_refusal_does_not_echo_passwords_or_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.signals.settings import Settings

    monkeypatch.setenv("DDK_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("DDK_KAFKA_SASL_PASSWORD", "hunter2-kafka")
    monkeypatch.setenv("DDK_SIGNALS_FIELD_KEYRING", "k1:field-key-material")
    with pytest.raises(ValidationError) as failure:
        Settings()
    assert "DDK_KAFKA_SASL_USERNAME" in str(failure.value)
    assert "hunter2" not in str(failure.value) and "field-key" not in str(failure.value)
