"""Keys stay home: every service sees only its own Secret, database and role (deploy/ is
validated as files here, since no Docker engine or cluster runs on this machine)."""

import asyncio
import importlib
import re
import subprocess
import uuid
from urllib.parse import urlsplit

import asyncpg
import pytest
import yaml

from conftest import PG_ADMIN_DSN, _pg
from tests.deploy_files import COMPOSE, FRONTEND_NAMES, K8S, ROOT, compose_value, docs
from tools import registry
from tools.registry import NAMES

SERVICES = NAMES
#: Settings fields that are secrets, per owning service (a DB URL carries a password).
SECRET_FIELDS = {
    "signals": {"operational_pseudonym_key", "statistics_pseudonym_key", "field_keyring",
                "field_active_key_id", "access_log_key"},
    "indicators": {"cell_key_secret"},
    "funding": set(),
}
#: What only signals may ever hold: the statistics key re-identifies a household from an
#: address, the keyring decrypts its personal data, the access-log key re-chains the log.
SIGNALS_ONLY = ("DDK_SIGNALS_STATISTICS_PSEUDONYM_KEY", "DDK_SIGNALS_FIELD_KEYRING",
                "DDK_SIGNALS_FIELD_ACTIVE_KEY_ID", "DDK_SIGNALS_OPERATIONAL_PSEUDONYM_KEY",
                "DDK_SIGNALS_ACCESS_LOG_KEY")
ALL_SECRET_VARIABLES = (*SIGNALS_ONLY, "DDK_INDICATORS_CELL_KEY_SECRET",
                        *(f"DDK_{s.upper()}_DATABASE_URL" for s in SERVICES))
POSTGRES_INIT = ROOT / "deploy" / "compose" / "postgres-init.sql"


def _service_of(env_name):
    """The service whose settings read this variable (DDK_<SERVICE>_...), else None."""
    for service in SERVICES:
        if env_name.startswith(f"DDK_{service.upper()}_"):
            return service
    return None


def test_no_service_settings_define_another_services_secrets():
    fields = {}
    for service in SERVICES:
        fields[service] = set(registry.service(service).settings_type().model_fields)
    shared = set(importlib.import_module("shared.settings").ServiceSettings.model_fields)
    for owner, secrets in SECRET_FIELDS.items():
        assert not secrets & shared, "a secret in the shared settings reaches every service"
        for service in SERVICES:
            if service != owner:
                assert not secrets & fields[service], (service, secrets & fields[service])
    assert SECRET_FIELDS["signals"] <= fields["signals"]
    # Nor does any other code read them (say, from the environment directly).
    for owner, secrets in SECRET_FIELDS.items():
        for path in [*ROOT.glob("services/*/**/*.py"), *ROOT.glob("shared/**/*.py"),
                     *ROOT.glob("tools/**/*.py")]:
            if path.is_relative_to(ROOT / "services" / owner) or "tests" in path.parts:
                continue
            text = path.read_text().lower()
            assert not [s for s in secrets if s in text], path


def _database_url_owner(url):
    """(role, database) of a PostgreSQL URL such as postgresql+asyncpg://r:pw@h:5432/db."""
    parsed = urlsplit(url)
    return parsed.username, parsed.path.lstrip("/")


def _assert_confined(visible):
    """visible: {workload: (service or None, {env name: value or None})}."""
    holders = {}
    for workload, (service, env) in visible.items():
        for name, value in env.items():
            assert not name.startswith("DDK_DATABASE_URL"), (
                f"{workload}: a platform-wide database URL is read by every service")
            owner = _service_of(name)
            if owner is not None:
                assert owner == service, f"{workload} ({service}) can read {name}"
                holders.setdefault(name, set()).add(service)
            if name.endswith("_DATABASE_URL") and value:
                assert _database_url_owner(value) == (service, service), (workload, value)
    for name in SIGNALS_ONLY:
        assert holders.get(name) == {"signals"}, name
    for service in SERVICES:
        assert holders.get(f"DDK_{service.upper()}_DATABASE_URL") == {service}


def _compose_app_containers():
    compose = yaml.safe_load(COMPOSE.read_text())
    out = {}
    for name, svc in compose["services"].items():
        if not str(svc.get("image", "")).startswith("dichtdekloof"):
            continue  # Kafka and PostgreSQL themselves
        assert "env_file" not in svc, f"{name}: an env file hides what the container sees"
        # A one-shot job acting for a service (its migrations) names it in a label.
        service = name if name in SERVICES or name in FRONTEND_NAMES else (
            svc.get("labels") or {}).get(
            "nl.dichtdekloof.service")
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
        out[name] = (service, {k: compose_value(v) for k, v in env.items()})
    return out


def test_compose_gives_each_service_only_its_own_keys_and_database():
    containers = _compose_app_containers()
    services = {s for s, _ in containers.values()}
    assert set(SERVICES) <= services, containers.keys()
    _assert_confined(containers)


def _k8s_workloads():
    out, secrets_of, tokens = {}, {}, {}
    for path in K8S:
        for doc in docs(path):
            if doc["kind"] not in ("Deployment", "Job"):
                continue
            pod = doc["spec"]["template"]
            labels = pod["metadata"].get("labels", {})
            # Whose Secret a pod may hold: the label, else a service's own Deployment.
            service = labels.get("dichtdekloof.nl/service") or labels.get("app.kubernetes.io/name")
            service = service if service in SERVICES or service in FRONTEND_NAMES else None
            spec = pod["spec"]
            tokens[doc["metadata"]["name"]] = spec.get("automountServiceAccountToken", True)
            env = {}
            secrets = set()
            for volume in spec.get("volumes", []):
                if "secret" in volume:
                    secrets.add(volume["secret"]["secretName"])
            for container in spec["containers"] + spec.get("initContainers", []):
                for source in container.get("envFrom", []):
                    if "secretRef" in source:  # all it holds: assume every service's keys
                        secrets.add(source["secretRef"]["name"])
                        env.update({name: None for name in ALL_SECRET_VARIABLES})
                for item in container.get("env", []):
                    ref = item.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        secrets.add(ref["name"])
                    env[item["name"]] = item.get("value")
            out[doc["metadata"]["name"]] = (service, env)
            for secret in secrets:
                secrets_of.setdefault(secret, set()).add(service)
    return out, secrets_of, tokens


def test_kubernetes_gives_each_service_only_its_own_secret():
    workloads, secrets_of, tokens = _k8s_workloads()
    assert {s for s, _ in workloads.values()} >= set(SERVICES)
    _assert_confined(workloads)
    # With an API token, a pod could read any Secret its service account may list.
    assert not [name for name, mounted in tokens.items() if mounted]
    # CA certificates are public: every pod may mount them. Any other Secret has one owner: a
    # service (its own `ddk-<service>`, Kafka user `ddk-kafka-<service>`, ...) or the topics
    # job, which holds only its Kafka user.
    public = {"ddk-tls-ca"}
    for secret, services in secrets_of.items():
        if secret in public:
            continue
        assert len(services) == 1, (secret, services)
        (service,) = services
        if service is None:
            assert secret == "ddk-kafka-init", secret
        else:
            assert secret in (f"ddk-{service}", f"ddk-kafka-{service}") or secret.startswith(
                f"ddk-{service}-"), secret
    assert {f"ddk-{s}" for s in SERVICES} <= set(secrets_of)


def _statements(sql):
    sql = re.sub(r"--[^\n]*", "", sql)
    return [" ".join(s.split()).lower() for s in re.split(r";|\n(?=\\)", sql) if s.strip()]


def test_postgres_init_gives_each_service_one_database_and_a_confined_role():
    statements = _statements(POSTGRES_INIT.read_text())
    roles = {m.group(1): s for s in statements
             if (m := re.match(r"create role (\w+) ", s))}
    databases = {m.group(1): m.group(2) for s in statements
                 if (m := re.match(r"create database (\w+) owner (\w+)", s))}
    assert set(roles) == set(SERVICES) and databases == {s: s for s in SERVICES}
    for role, statement in roles.items():
        assert "login" in statement
        for power in ("superuser", "createdb", "createrole", "bypassrls", "replication"):
            assert f" {power}" not in statement.replace(f" no{power}", ""), (role, power)
    for db in SERVICES:
        assert f"revoke all on database {db} from public" in statements, db
    for s in statements:
        grant = re.match(r"grant .* on database (\w+) to (\w+)", s)
        assert grant is None or grant.group(1) == grant.group(2), s
        assert not re.match(r"grant \w+ to \w+", s), f"role membership: {s}"


@pytest.mark.parametrize("database_kind", ["postgresql"], indirect=True)
def test_postgres_init_roles_cannot_reach_each_others_databases(database_kind):
    """The init script on the real server (names made unique): a service's role works in its
    own database and is refused by the others."""
    suffix = uuid.uuid4().hex[:8]
    names = {s: f"ddk_{s}_{suffix}" for s in SERVICES}
    sql = POSTGRES_INIT.read_text()
    for service, name in names.items():
        sql = re.sub(rf"\b{service}\b", name, sql)
    admin = urlsplit(PG_ADMIN_DSN)
    psql = ["psql", "-v", "ON_ERROR_STOP=1", "-h", admin.hostname, "-p", str(admin.port or 5432),
            "-U", admin.username]
    passwords = [f"-v{service}_password=pw-{suffix}" for service in names]
    try:
        result = subprocess.run([*psql, *passwords, "-d", admin.path.lstrip("/"), "-f", "-"],
                                input=sql, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr

        async def probe(role, database):
            dsn = f"postgresql://{role}@{admin.hostname}:{admin.port or 5432}/{database}"
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute("CREATE TABLE probe (id int)")
                return "ok"
            finally:
                await conn.close()

        for service, role in names.items():
            for other, database in names.items():
                try:
                    outcome = asyncio.run(probe(role, database))
                except asyncpg.InsufficientPrivilegeError:
                    outcome = "refused"
                assert outcome == ("ok" if other == service else "refused"), (role, database)
    finally:
        for name in names.values():
            asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        for name in names.values():
            asyncio.run(_pg(f'DROP ROLE IF EXISTS "{name}"'))
