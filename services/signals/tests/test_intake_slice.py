import uuid

import pytest

BODY = {
    "category": "nuisance", "subcategory": "noise", "observedAt": "2026-11-20T10:00:00Z",
    "severity": "medium", "areaCode": "BU03630001", "unitRef": "unit-17",
}


async def test_create_and_replay(start_service, auth):
    async with start_service("signals", relay_enabled=False) as client:
        body = {**BODY, "id": str(uuid.uuid4())}
        h = auth("field-worker")
        r = await client.post("/v1/signals", json=body, headers=h)
        assert r.status_code == 201, r.text
        assert r.headers["API-Version"] == "1.0.0"
        r2 = await client.post("/v1/signals", json=body, headers=h)
        assert r2.status_code == 200
        assert r2.json()["id"] == body["id"]
        r3 = await client.post("/v1/signals", json={**body, "severity": "high"}, headers=h)
        assert r3.status_code == 409
        assert r3.headers["content-type"] == "application/problem+json"
