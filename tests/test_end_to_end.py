"""The thin slice over the real broker: signals -> indicators -> funding."""

import uuid

import pytest

from tests.helpers import eventually
from tools.broker import embedded_broker


@pytest.fixture(scope="module")
def broker():
    """A broker of its own: consumer groups start on a clean `signals.v1`, not behind
    thousands of events that other modules' tests published."""
    with embedded_broker() as b:
        yield b


@pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)
async def test_signal_flows_to_indicators_and_funding(start_service, auth):
    area = "BU05990101"
    async with (
        start_service("signals") as signals,
        start_service("indicators") as indicators,
        start_service("funding") as funding,
    ):
        admin = auth("admin", "demo-municipality")  # raw counts: admins only
        before = await indicators.get(f"/v1/areas/{area}/signal-counts", headers=admin)
        assert before.status_code == 200 and before.json()["signals"] == 0

        body = {"id": str(uuid.uuid4()), "category": "loneliness", "severity": "low",
                "observedAt": "2026-11-01T09:30:00Z", "areaCode": area, "unitRef": "u-1"}
        r = await signals.post("/v1/signals", json=body, headers=auth("field-worker"))
        assert r.status_code == 201, r.text

        async def counted():
            r = await indicators.get(f"/v1/areas/{area}/signal-counts", headers=admin)
            return r.json() if r.json()["signals"] == 1 else None

        counts = await eventually(counted)
        assert counts["byCategory"] == {"loneliness": 1}

        officer = auth("programme-officer", "demo-programme")

        async def received():
            r = await funding.get(f"/v1/indicator-inputs/{area}", headers=officer)
            return r.json() if r.status_code == 200 else None

        inputs = await eventually(received)
        assert inputs["values"][0]["indicatorId"] == "signals"
        # One household is a small count: withheld from everyone downstream.
        assert inputs["values"][0]["value"] is None
        assert inputs["values"][0]["suppressed"] is True
        assert inputs["values"][0]["reason"] == "small-count"

        # The household asks for erasure: signal-erased (v2, the signal id only) reaches
        # indicators, which forget the signal.
        erased = await signals.post("/v1/data-subject-erasures", json={"unitRef": "u-1"},
                                    headers=auth("privacy-officer"))
        assert erased.status_code == 200 and erased.json()["erased"] == 1, erased.text

        async def forgotten():
            r = await indicators.get(f"/v1/areas/{area}/signal-counts", headers=admin)
            return r.json() if r.json()["signals"] == 0 else None

        assert (await eventually(forgotten))["byCategory"] == {}
