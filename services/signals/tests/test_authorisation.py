"""Who sees what: one app, one set of records, every role against every endpoint.

Decisions: roles are checked before records are looked up, so an analyst (no personal data
at all) and a partner on case-work endpoints get 403 whatever the id; a signal or referral
of another organisation is 404 (its existence is not revealed).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from services.signals.app import build
from services.signals.settings import Settings
from services.signals.tests.conftest import TEST_KEYS, signal_body
from tests.apps import serve
from tools.migrate import upgrade

A, B, MUNI, GGZ = "demo-corp-a", "demo-corp-b", "demo-municipality", "demo-ggz"
PRINCIPALS = {
    "fw-a": ("field-worker", A), "coord-a": ("coordinator", A), "fw-b": ("field-worker", B),
    "coord-b": ("coordinator", B), "partner-muni": ("partner", MUNI),
    "partner-debt-help": ("partner", MUNI),
    "partner-ggz": ("partner", GGZ), "analyst": ("analyst", MUNI),
    "privacy-a": ("privacy-officer", A),
}
#: The `team` claim of the municipality's partner users (its wijkteam, debt help, ...).
TEAMS = {"partner-muni": {"team": "municipality"}, "partner-debt-help": {"team": "debt-help"}}


@pytest.fixture(scope="module")
async def world(broker, key_dir, token, tmp_path_factory):
    """A running app with a corp-a signal referred to the municipality."""
    url = f"sqlite+aiosqlite:///{Path(tmp_path_factory.mktemp('authz')) / 'signals.db'}"
    upgrade("signals", url)
    settings = Settings(
        database_url=url, kafka_bootstrap_servers=broker.bootstrap_servers,
        auth_public_key_file=str(key_dir / "issuer-public.pem"), relay_enabled=False,
        log_json=False, log_level="WARNING", **TEST_KEYS)
    app = build(settings)
    headers = {name: {"Authorization": f"Bearer {token(role, org, **TEAMS.get(name, {}))}"}
               for name, (role, org) in PRINCIPALS.items()}
    async with serve(app) as client:
        body = signal_body()
        await client.post("/v1/signals", json=body, headers=headers["fw-a"])
        sid = body["id"]
        await client.post(f"/v1/signals/{sid}/status-changes", json={"status": "triaged"},
                          headers={**headers["coord-a"], "If-Match": '"1"'})
        r = await client.post(f"/v1/signals/{sid}/referrals", json={
            "partnerOrganisation": MUNI, "purpose": "woonoverlast-aanpak"},
            headers=headers["coord-a"])
        assert r.status_code == 201, r.text
        yield client, headers, {"S": sid, "R": r.json()["id"]}


MATRIX = [
    # (who, method, path, expected status)
    ("fw-a", "GET", "/v1/signals/{S}", 200),
    ("coord-a", "GET", "/v1/signals/{S}?purpose=case-handling", 200),
    ("fw-b", "GET", "/v1/signals/{S}", 404),
    ("coord-b", "GET", "/v1/signals/{S}?purpose=case-handling", 404),
    ("partner-muni", "GET", "/v1/signals/{S}", 403),
    ("analyst", "GET", "/v1/signals/{S}", 403),
    ("privacy-a", "GET", "/v1/signals/{S}", 403),
    ("fw-a", "GET", "/v1/signals", 200),
    ("analyst", "GET", "/v1/signals", 403),
    ("partner-muni", "GET", "/v1/signals", 403),
    ("fw-b", "GET", "/v1/signals/{S}/history", 404),
    ("partner-muni", "GET", "/v1/signals/{S}/history", 403),
    ("fw-a", "POST", "/v1/signals", 201),
    ("coord-a", "POST", "/v1/signals", 201),
    ("partner-muni", "POST", "/v1/signals", 403),
    ("analyst", "POST", "/v1/signals", 403),
    ("privacy-a", "POST", "/v1/signals", 403),
    ("analyst", "POST", "/v1/signals/batch", 403),
    ("fw-b", "POST", "/v1/signals/{S}/status-changes", 404),
    ("partner-muni", "POST", "/v1/signals/{S}/status-changes", 403),
    ("analyst", "POST", "/v1/signals/{S}/status-changes", 403),
    ("fw-a", "POST", "/v1/signals/{S}/referrals", 403),
    ("coord-b", "POST", "/v1/signals/{S}/referrals", 404),
    ("partner-muni", "GET", "/v1/referrals", 200),
    ("coord-a", "GET", "/v1/referrals", 403),
    ("analyst", "GET", "/v1/referrals", 403),
    ("partner-muni", "GET", "/v1/referrals/{R}", 200),
    ("partner-ggz", "GET", "/v1/referrals/{R}", 404),
    ("partner-debt-help", "GET", "/v1/referrals/{R}", 403),
    ("partner-debt-help", "POST", "/v1/referrals/{R}/outcome", 403),
    ("fw-b", "POST", "/v1/signals/{S}/consents", 404),
    ("partner-muni", "POST", "/v1/signals/{S}/consents", 403),
    ("analyst", "POST", "/v1/signals/{S}/objections", 403),
    ("privacy-a", "GET", "/v1/erasure-records", 200),
    ("coord-a", "GET", "/v1/erasure-records", 403),
    ("fw-a", "GET", "/v1/referrals/{R}", 403),
    ("analyst", "GET", "/v1/referrals/{R}", 403),
    ("fw-a", "POST", "/v1/referrals/{R}/outcome", 403),
    ("partner-ggz", "POST", "/v1/referrals/{R}/outcome", 404),
    ("privacy-a", "GET", "/v1/access-log", 200),
    ("privacy-a", "GET", "/v1/access-log/verification", 200),
    ("analyst", "GET", "/v1/access-log", 403),
    ("coord-a", "GET", "/v1/access-log", 403),
    ("fw-a", "GET", "/v1/access-log/verification", 403),
    ("privacy-a", "POST", "/v1/data-subject-exports", 200),
    ("fw-a", "POST", "/v1/data-subject-exports", 403),
    ("analyst", "POST", "/v1/data-subject-exports", 403),
    ("coord-a", "POST", "/v1/data-subject-erasures", 403),
    ("analyst", "GET", "/v1/categories", 200),
    (None, "GET", "/v1/signals", 401),
    (None, "GET", "/v1/categories", 401),
]

BODIES = {
    "/status-changes": {"status": "in-progress"},
    "/referrals": {"partnerOrganisation": GGZ, "purpose": "ggz-care-referral"},
    "/outcome": {"outcome": "no-contact"},
    "/consents": {"purpose": "wijkteam-support"},
    "/objections": {"purpose": "woonoverlast-aanpak"},
    "/data-subject-exports": {"postcode": "9999 ZZ", "houseNumber": 1},
    "/data-subject-erasures": {"postcode": "9999 ZZ", "houseNumber": 1},
}


@pytest.mark.parametrize(("who", "method", "path", "expected"), MATRIX,
                         ids=[f"{w}-{m}-{p}" for w, m, p, _ in MATRIX])
async def test_access_matrix(world, who, method, path, expected):
    client, headers, ids = world
    url = path.format(**ids)
    h = {**headers[who], "If-Match": "*"} if who else {}
    body = next((b for suffix, b in BODIES.items() if url.endswith(suffix)), None)
    if url.endswith("/v1/signals"):
        body = signal_body()
    if url.endswith("/batch"):
        body = [signal_body()]
    r = await client.request(method, url, json=body, headers=h)
    assert r.status_code == expected, r.text


async def test_partner_sees_only_the_purposes_fields(world):
    client, headers, ids = world
    seen = (await client.get(f"/v1/referrals/{ids['R']}", headers=headers["partner-muni"]))
    shared = seen.json()["signal"]
    # woonoverlast-aanpak: no contact details beyond the address, nothing unknown.
    codes = {name.removesuffix("Label") for name in shared if name.endswith("Label")}
    assert set(shared) - {f"{c}Label" for c in codes} <= {
        "category", "subcategory", "severity", "areaCode", "observedAt", "address", "note"}
    assert codes <= set(shared)  # a label only beside a code the purpose shares
    assert str(uuid.UUID(ids["S"])) not in seen.text  # the signal's own id is not shared
