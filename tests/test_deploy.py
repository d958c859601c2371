"""deploy/ is validated here, since no Docker engine or cluster runs on this machine."""

import asyncio
import importlib
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
import yaml

from conftest import PG_ADMIN_DSN, _pg
from tools import registry
from tools.registry import FRONTENDS, NAMES

#: Deployables that serve people (the console): their own Secret, no service's keys.
FRONTEND_NAMES = {f.name for f in FRONTENDS}

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
K8S = sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))
COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"


def test_kubernetes_manifests_match_the_schemas():
    result = subprocess.run([BIN / "kubernetes-validate", "--strict", "--quiet", *K8S],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_matches_the_compose_spec():
    result = subprocess.run([BIN / "check-jsonschema", "--builtin-schema",
                             "vendor.compose-spec", COMPOSE], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _docs(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


#: Workloads without an HTTP API, by name: the module each runs (`python -m ...`).
WORKERS = {"indicators-snapshots": "services.indicators.snapshots.process"}


def test_deployments_are_replicated_probed_and_non_root():
    deployments = [d for p in K8S for d in _docs(p) if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == (
        set(NAMES) | FRONTEND_NAMES | set(WORKERS))
    for d in deployments:
        spec = d["spec"]["template"]["spec"]
        container = spec["containers"][0]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["resources"]["limits"] and container["resources"]["requests"]
        if d["metadata"]["name"] in WORKERS:
            continue  # test_one_workload_runs_the_snapshot_worker
        assert d["spec"]["replicas"] >= 2
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        app_module = container["command"][2].split(":")[0]
        importlib.import_module(app_module)  # the command names a real app
    kinds = {d["kind"] for p in K8S for d in _docs(p)}
    assert {"PodDisruptionBudget", "HorizontalPodAutoscaler", "Job", "ConfigMap"} <= kinds


def test_compose_waits_for_healthy_dependencies_and_takes_secrets_from_env():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    for name in ("signals", "indicators", "funding"):
        deps = services[name]["depends_on"]
        assert deps["topics"]["condition"] == "service_completed_successfully"
        assert deps[f"migrate-{name}"]["condition"] == "service_completed_successfully"
        assert deps["kafka"]["condition"] == "service_healthy"
        assert services[name]["user"] == "10001:10001"
    assert "KRaft" in COMPOSE.read_text() and services["kafka"]["image"].startswith("apache/kafka")
    assert "${POSTGRES_PASSWORD:?" in COMPOSE.read_text()


# -- transport security --------------------------------------------------------------------
APPS = ("signals", "indicators", "funding")


def _under(path: str, mounts: list[str]) -> bool:
    return any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts)


def _accepted_by_the_settings(env, tmp_path):
    """The transport settings as a service would load them (files stand in for the mounts)."""
    from shared.settings import ServiceSettings

    stand_in = tmp_path / "mounted.pem"
    stand_in.write_text("")
    values = {name[len("DDK_"):].lower(): value for name, value in env.items()
              if name.startswith(("DDK_KAFKA_", "DDK_DATABASE_SSL"))}
    values.update({field: str(stand_in) for field in values
                   if field.endswith(("file", "sslrootcert", "sslcert", "sslkey"))})
    return ServiceSettings(**values)


def _workloads():
    """(name, pod spec) of every Deployment and Job in the manifests."""
    return [(d["metadata"]["name"], d["spec"]["template"]["spec"])
            for p in K8S for d in _docs(p) if d["kind"] in ("Deployment", "Job")]


def test_kubernetes_services_use_sasl_ssl_to_kafka_and_verify_full_to_postgres(tmp_path):
    config = next(d["data"] for p in K8S for d in _docs(p) if d["kind"] == "ConfigMap"
                  and d["metadata"]["name"] == "ddk-config")
    assert config["DDK_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["DDK_KAFKA_SASL_MECHANISM"] in ("SCRAM-SHA-256", "SCRAM-SHA-512")
    assert config["DDK_KAFKA_ENABLE_IDEMPOTENCE"] == "true"
    assert config["DDK_DATABASE_SSLMODE"] == "verify-full"
    workloads = [(name, spec) for name, spec in _workloads() if name not in FRONTEND_NAMES]
    assert {name for name, _ in workloads} == {
        *APPS, *WORKERS, "ddk-topics", *(f"ddk-migrate-{app}" for app in APPS)}
    for name, spec in workloads:
        container = spec["containers"][0]
        assert {"configMapRef": {"name": "ddk-config"}} in container["envFrom"], name
        secret_volumes = {v["name"] for v in spec.get("volumes", []) if "secret" in v}
        mounts = [m["mountPath"] for m in container.get("volumeMounts", [])
                  if m["name"] in secret_volumes and m.get("readOnly")]
        for file in ("DDK_KAFKA_SSL_CAFILE", "DDK_DATABASE_SSLROOTCERT"):
            assert _under(config[file], mounts), (name, file)  # mounted from a Secret
        env = {e["name"]: e for e in container.get("env", [])}
        if name in WORKERS:  # no Kafka client: no Kafka user (test_the_snapshot_worker_...)
            assert not [v for v in env if "KAFKA_SASL" in v], name
            continue
        for variable in ("DDK_KAFKA_SASL_USERNAME", "DDK_KAFKA_SASL_PASSWORD"):
            assert "secretKeyRef" in env[variable]["valueFrom"], (name, variable)
        _accepted_by_the_settings({**config, "DDK_KAFKA_SASL_USERNAME": "u",
                                   "DDK_KAFKA_SASL_PASSWORD": "p"}, tmp_path)


# -- the indicators snapshot worker: one for all replicas ----------------------------------
SNAPSHOT_WORKER = WORKERS["indicators-snapshots"]
INDICATORS_APP = "services.indicators.app:app"


def _runs(command, target):
    """Whether a container command runs `target` (a module, or an app `module:attr`)."""
    return target in (command or [])


def test_one_workload_runs_the_snapshot_worker_and_the_api_does_not():
    """Each indicators API replica would otherwise start a worker of its own (the default,
    `snapshot_worker = process`), and every one would compute the whole country."""
    importlib.import_module(SNAPSHOT_WORKER)
    deployments = [d for p in K8S for d in _docs(p) if d["kind"] in ("Deployment", "Job")]
    workers = [d for d in deployments
               if _runs(d["spec"]["template"]["spec"]["containers"][0].get("command"),
                        SNAPSHOT_WORKER)]
    assert [d["metadata"]["name"] for d in workers] == ["indicators-snapshots"]
    (worker,) = workers
    assert worker["kind"] == "Deployment" and worker["spec"]["replicas"] == 1
    assert worker["spec"]["strategy"] == {"type": "Recreate"}  # never two at once
    assert not [d for d in _docs(ROOT / "deploy" / "k8s" / "10-indicators.yaml")
                if d["kind"] == "HorizontalPodAutoscaler"
                and d["spec"]["scaleTargetRef"]["name"] == "indicators-snapshots"]
    apis = [d for d in deployments
            if _runs(d["spec"]["template"]["spec"]["containers"][0].get("command"),
                     INDICATORS_APP)]
    assert [d["metadata"]["name"] for d in apis] == ["indicators"]
    for d in apis:
        env = {e["name"]: e.get("value")
               for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["DDK_INDICATORS_SNAPSHOT_WORKER"] == "off", d["metadata"]["name"]

    services = yaml.safe_load(COMPOSE.read_text())["services"]
    workers = [name for name, s in services.items() if _runs(s.get("command"), SNAPSHOT_WORKER)]
    assert workers == ["indicators-snapshots"]
    assert "deploy" not in services["indicators-snapshots"]  # no replicas: one container
    apis = [name for name, s in services.items() if _runs(s.get("command"), INDICATORS_APP)]
    assert apis == ["indicators"]
    # A string: a bare `off` would be YAML's false.
    assert services["indicators"]["environment"]["DDK_INDICATORS_SNAPSHOT_WORKER"] == "off"


def _worker_settings(env, mounts, tmp_path, monkeypatch):
    """The snapshot worker's settings as its process reads them (`Settings()` from the
    environment), with a stand-in file for each path under a mount."""
    from services.indicators.settings import Settings

    stand_in = tmp_path / "mounted.pem"
    stand_in.write_text("")
    for name in [n for n in os.environ if n.startswith("DDK_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, str(stand_in) if _under(value, mounts) else value)
    return Settings()


def test_the_snapshot_worker_starts_with_only_the_database(tmp_path, monkeypatch):
    """Its settings load (the start-up checks of transport security pass) without a Kafka
    user or client certificate, and it reaches its database with verify-full."""
    config = next(d["data"] for p in K8S for d in _docs(p) if d["kind"] == "ConfigMap"
                  and d["metadata"]["name"] == "ddk-config")
    spec = dict(_workloads())["indicators-snapshots"]
    container = spec["containers"][0]
    assert container["command"] == ["python", "-m", SNAPSHOT_WORKER]
    secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]
               if "valueFrom" in e}
    assert secrets == {"DDK_INDICATORS_DATABASE_URL": {"name": "ddk-indicators",
                                                       "key": "database-url"}}
    env = {**config, **{e["name"]: e["value"] for e in container["env"] if "value" in e},
           "DDK_INDICATORS_DATABASE_URL": "postgresql+asyncpg://indicators:pw@pg/indicators"}
    mounts = [m["mountPath"] for m in container["volumeMounts"] if m.get("readOnly")]
    settings = _worker_settings(env, mounts, tmp_path, monkeypatch)
    assert settings.database_sslmode == "verify-full" and settings.database_sslrootcert
    assert settings.database_url.startswith("postgresql+asyncpg://indicators:")

    service = yaml.safe_load(COMPOSE.read_text())["services"]["indicators-snapshots"]
    env = {k: _compose_value(v) for k, v in service["environment"].items()}
    mounts = [v.split(":")[1] for v in service["volumes"] if v.endswith(":ro")]
    assert not [v for v in service["volumes"] if "/client" in v]  # no Kafka client key
    settings = _worker_settings(env, mounts, tmp_path, monkeypatch)
    assert (settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile) == ("", "")
    assert settings.database_sslmode == "verify-full" and settings.database_sslrootcert
    assert "DDK_INDICATORS_CELL_KEY_SECRET" not in env


def test_the_console_reaches_no_broker_database_nor_service_keys():
    """It calls the public APIs only: no Kafka or database setting, no service's Secret."""
    compose = yaml.safe_load(COMPOSE.read_text())["services"]
    pods = dict(_workloads())
    for name in FRONTEND_NAMES:
        container = pods[name]["containers"][0]
        assert "envFrom" not in container, name
        k8s_env = {e["name"] for e in container["env"]}
        for env in (k8s_env, set(compose[name]["environment"])):
            assert not [v for v in env if v.startswith(("DDK_KAFKA", "DDK_DATABASE"))], env
            assert {f"DDK_{name.upper()}_{s.upper()}_URL" for s in SERVICES} <= env
        assert "volumes" not in compose[name] and not pods[name].get("volumes")


def test_compose_services_use_mutual_tls_to_kafka_and_verify_full_to_postgres(tmp_path):
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    kafka = services["kafka"]["environment"]
    protocols = dict(pair.split(":") for pair in
                     kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    advertised = dict(item.split("://") for item in
                      kafka["KAFKA_ADVERTISED_LISTENERS"].split(","))
    reachable = {address: protocols[listener] for listener, address in advertised.items()
                 if address.split(":")[0] not in ("localhost", "127.0.0.1")}
    assert set(reachable.values()) == {"SSL"}  # no plaintext listener off the broker's host
    assert kafka["KAFKA_SSL_CLIENT_AUTH"] == "required"
    postgres = services["postgres"]
    command = " ".join(postgres["command"])
    assert "ssl=on" in command and "hba_file=" in command
    hba = (COMPOSE.parent / "pg_hba.conf").read_text().splitlines()
    rules = [line.split()[0] for line in hba if line.strip() and not line.startswith("#")]
    assert "hostssl" in rules and not {"host", "hostnossl"} & set(rules)
    # The topics job has a client certificate of its own; a migration job uses its service's.
    clients = {**{app: app for app in APPS}, "topics": "init",
               **{f"migrate-{app}": app for app in APPS}}
    for name, client in clients.items():
        env = services[name]["environment"]
        assert env["DDK_KAFKA_BOOTSTRAP_SERVERS"] in reachable, name
        assert env["DDK_KAFKA_SECURITY_PROTOCOL"] == "SSL", name
        assert env["DDK_KAFKA_ENABLE_IDEMPOTENCE"] == "true", name
        assert env["DDK_DATABASE_SSLMODE"] == "verify-full", name
        mounts = [v.split(":")[1] for v in services[name]["volumes"] if v.endswith(":ro")]
        for file in ("DDK_KAFKA_SSL_CAFILE", "DDK_KAFKA_SSL_CERTFILE", "DDK_KAFKA_SSL_KEYFILE",
                     "DDK_DATABASE_SSLROOTCERT"):
            assert _under(env[file], mounts), (name, file)
        # Each service mounts its own client key only.
        own = [v for v in services[name]["volumes"] if "/client" in v.split(":")[1]]
        assert own == [f"./certs/{client}:/run/tls/client:ro"], name
        _accepted_by_the_settings(env, tmp_path)


# Keys stay home: every service sees only its own Secret, database and role.

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
        out[name] = (service, {k: _compose_value(v) for k, v in env.items()})
    return out


def _compose_value(value):
    """A URL with ${VAR:?} interpolations, made parseable (the variables become `x`)."""
    return re.sub(r"\$\{[^}]*\}", "x", str(value)) if value is not None else None


def test_compose_gives_each_service_only_its_own_keys_and_database():
    containers = _compose_app_containers()
    services = {s for s, _ in containers.values()}
    assert set(SERVICES) <= services, containers.keys()
    _assert_confined(containers)


def _k8s_workloads():
    out, secrets_of, tokens = {}, {}, {}
    for path in K8S:
        for doc in _docs(path):
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
