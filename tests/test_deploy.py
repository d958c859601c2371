"""deploy/ is validated here, since no Docker engine or cluster runs on this machine."""

import importlib
import subprocess
import sys
from pathlib import Path

import yaml

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


def test_deployments_are_replicated_probed_and_non_root():
    deployments = [d for p in K8S for d in _docs(p) if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {"signals", "indicators", "funding"}
    for d in deployments:
        spec = d["spec"]["template"]["spec"]
        container = spec["containers"][0]
        assert d["spec"]["replicas"] >= 2
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert container["resources"]["limits"] and container["resources"]["requests"]
        app_module = container["command"][2].split(":")[0]
        importlib.import_module(app_module)  # the command names a real app
    kinds = {d["kind"] for p in K8S for d in _docs(p)}
    assert {"PodDisruptionBudget", "HorizontalPodAutoscaler", "Job", "ConfigMap"} <= kinds


def test_compose_waits_for_healthy_dependencies_and_takes_secrets_from_env():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    for name in ("signals", "indicators", "funding"):
        deps = services[name]["depends_on"]
        assert deps["init"]["condition"] == "service_completed_successfully"
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
    workloads = _workloads()
    assert {name for name, _ in workloads} == {*APPS, "ddk-init"}
    for name, spec in workloads:
        container = spec["containers"][0]
        assert {"configMapRef": {"name": "ddk-config"}} in container["envFrom"], name
        secret_volumes = {v["name"] for v in spec.get("volumes", []) if "secret" in v}
        mounts = [m["mountPath"] for m in container.get("volumeMounts", [])
                  if m["name"] in secret_volumes and m.get("readOnly")]
        for file in ("DDK_KAFKA_SSL_CAFILE", "DDK_DATABASE_SSLROOTCERT"):
            assert _under(config[file], mounts), (name, file)  # mounted from a Secret
        env = {e["name"]: e for e in container.get("env", [])}
        for variable in ("DDK_KAFKA_SASL_USERNAME", "DDK_KAFKA_SASL_PASSWORD"):
            assert "secretKeyRef" in env[variable]["valueFrom"], (name, variable)
        _accepted_by_the_settings({**config, "DDK_KAFKA_SASL_USERNAME": "u",
                                   "DDK_KAFKA_SASL_PASSWORD": "p"}, tmp_path)


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
    for name in (*APPS, "init"):
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
        assert own == [f"./certs/{name}:/run/tls/client:ro"], name
        _accepted_by_the_settings(env, tmp_path)
