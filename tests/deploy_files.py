"""The deploy/ files as the deployment tests read them (no Docker engine or cluster here)."""

import re
from pathlib import Path

import yaml

from tools.registry import FRONTENDS

ROOT = Path(__file__).resolve().parent.parent
K8S = sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))
COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"
#: Deployables that serve people (the console): their own Secret, no service's keys.
FRONTEND_NAMES = {f.name for f in FRONTENDS}


def docs(path):
    """The YAML documents of a file, empty ones left out."""
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def compose_value(value):
    """A URL with ${VAR:?} interpolations, made parseable (the variables become `x`)."""
    return re.sub(r"\$\{[^}]*\}", "x", str(value)) if value is not None else None
