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
