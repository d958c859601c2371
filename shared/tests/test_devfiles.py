"""Dev key files made by processes that start at once: one set of keys, never half a file."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from cryptography.hazmat.primitives import serialization

from services.signals.crypto.material import generate_key
from shared.devfiles import made_once
from shared.settings import ROOT

PROCESSES = 8
OLD_SIGNALS_FILE = json.dumps({
    "operational_pseudonym_key": generate_key(), "statistics_pseudonym_key": generate_key(),
    "field_keyring": f"dev1:{generate_key()}", "field_active_key_id": "dev1"}).encode()

MAKE = {
    "signals": (
        "from services.signals.crypto.keys import _dev_keys\n"
        "print(json.dumps(_dev_keys(path), sort_keys=True))"),
    # A dev file from before the access log: every process adds the key it lacks at once.
    "signals-upgraded": (
        "from services.signals.crypto.keys import _dev_keys\n"
        "print(json.dumps(_dev_keys(path), sort_keys=True))"),
    "indicators": (
        "from services.indicators.cellkey import _dev_secret\n"
        "print(json.dumps(_dev_secret(path)))"),
    # `make run` and `make token`: the token of one must verify with the key of the other.
    "issuer": (
        "from tools.devtoken import ensure_key_pair\n"
        "print(json.dumps([p.read_text() for p in ensure_key_pair(path.parent)]))"),
}


@pytest.mark.parametrize("service", sorted(MAKE))
def test_services_starting_at_once_share_one_dev_key_file(tmp_path, service):
    """`make run` starts the services side by side, and the tests several stacks at a time:
    each process read the file as soon as it existed, and one found it still empty (or
    linked a temporary file another was still writing). Processes that upgraded an old file
    at once each added an access-log key of their own, and all but one used a key the file
    did not hold."""
    path = tmp_path / "keys" / f"{service}-keys.json"
    if service == "signals-upgraded":
        path.parent.mkdir()
        path.write_bytes(OLD_SIGNALS_FILE)
    start_at = time.time() + 3.0  # after every process has imported what it needs
    script = (f"import json, time\nfrom pathlib import Path\npath = Path({str(path)!r})\n"
              f"{MAKE[service].splitlines()[0]}\n"
              f"time.sleep(max(0.0, {start_at} - time.time()))\n"
              f"{MAKE[service].splitlines()[1]}\n")
    runs = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(PROCESSES)]
    said = [run.communicate(timeout=60) for run in runs]
    assert [err for _, err in said if err] == []
    assert len({out for out, _ in said}) == 1, said
    if service == "issuer":
        private, public = [path.parent / f"issuer-{k}.pem" for k in ("private", "public")]
        assert json.loads(said[0][0]) == [private.read_text(), public.read_text()]
        key = serialization.load_pem_private_key(private.read_bytes(), password=None)
        assert key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo,
        ) == public.read_bytes()
        assert private.stat().st_mode & 0o777 == 0o600
        assert sorted(p.name for p in path.parent.iterdir()) == [private.name, public.name]
        return
    on_file = json.loads(path.read_text())
    if service == "signals-upgraded":  # the keys it had are kept: only one is added
        old = json.loads(OLD_SIGNALS_FILE)
        assert {k: on_file[k] for k in old} == old
        assert sorted(on_file) == sorted([*old, "access_log_key"])
    assert json.loads(said[0][0]) == (on_file if service.startswith("signals")
                                      else on_file["cell_key_secret"])
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_a_file_made_once_is_kept(tmp_path):
    path = tmp_path / "a" / "secret.json"
    assert made_once(path, b"first") == b"first"
    assert made_once(path, b"second") == b"first"
    assert path.read_bytes() == b"first"


def test_an_empty_key_file_is_named_not_misread(tmp_path):
    """Left by a crash (or by the code before, which made the file and then wrote it)."""
    path = tmp_path / "secret.json"
    path.write_bytes(b"")
    with pytest.raises(RuntimeError, match=r"secret\.json is empty"):
        made_once(path, b"new")
