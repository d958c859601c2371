"""deploy/ is validated here, since no Docker engine or cluster runs on this machine."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.deploy_files import COMPOSE, FRONTEND_NAMES, K8S, ROOT, compose_value, docs
from tools.registry import NAMES

BIN = Path(sys.executable).parent


def test_kubernetes_manifests_match_the_schemas():
    result = subprocess.run([BIN / "kubernetes-validate", "--strict", "--quiet", *K8S],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_matches_the_compose_spec():
    result = subprocess.run([BIN / "check-jsonschema", "--builtin-schema",
                             "vendor.compose-spec", COMPOSE], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


#: Workloads without an HTTP API, by name: the module each runs (`python -m ...`).
WORKERS = {"indicators-snapshots": "services.indicators.snapshots.process"}


def test_deployments_are_replicated_probed_and_non_root():
    deployments = [d for p in K8S for d in docs(p) if d["kind"] == "Deployment"]
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
    kinds = {d["kind"] for p in K8S for d in docs(p)}
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
            for p in K8S for d in docs(p) if d["kind"] in ("Deployment", "Job")]


def test_kubernetes_services_use_sasl_ssl_to_kafka_and_verify_full_to_postgres(tmp_path):
    config = next(d["data"] for p in K8S for d in docs(p) if d["kind"] == "ConfigMap"
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
    deployments = [d for p in K8S for d in docs(p) if d["kind"] in ("Deployment", "Job")]
    workers = [d for d in deployments
               if _runs(d["spec"]["template"]["spec"]["containers"][0].get("command"),
                        SNAPSHOT_WORKER)]
    assert [d["metadata"]["name"] for d in workers] == ["indicators-snapshots"]
    (worker,) = workers
    assert worker["kind"] == "Deployment" and worker["spec"]["replicas"] == 1
    assert worker["spec"]["strategy"] == {"type": "Recreate"}  # never two at once
    assert not [d for d in docs(ROOT / "deploy" / "k8s" / "10-indicators.yaml")
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
    config = next(d["data"] for p in K8S for d in docs(p) if d["kind"] == "ConfigMap"
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
    env = {k: compose_value(v) for k, v in service["environment"].items()}
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
            assert {f"DDK_{name.upper()}_{s.upper()}_URL" for s in NAMES} <= env
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
