"""Offline devices with a wrong clock: a batch's `sentAt` corrects its items' moments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.signals.tests.conftest import rent_arrears_body, signal_body

pytestmark = pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)


def at(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def parsed(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_device_ten_minutes_fast_has_its_moments_corrected(signals_service, auth):
    async with signals_service() as client:
        fw, coord = auth("field-worker", sub="fw-1"), auth("coordinator")
        device_now = datetime.now(UTC) + timedelta(minutes=10)  # its clock runs 10 min fast
        seen = device_now - timedelta(minutes=1)
        items = [signal_body(observedAt=at(seen)),
                 rent_arrears_body(observedAt=at(seen), consentRecordedAt=at(seen),
                                   writtenReminderAt=at(seen))]
        items[1] = {k: v for k, v in items[1].items() if v is not None}
        # As a bare list (no sentAt) the fast clock puts them in the future: refused.
        bare = await client.post("/v1/signals/batch", json=items, headers=fw)
        assert [i["result"] for i in bare.json()["items"]] == ["rejected", "rejected"]

        r = await client.post("/v1/signals/batch",
                              json={"sentAt": at(device_now), "signals": items}, headers=fw)
        assert r.status_code == 200, r.text
        assert [i["result"] for i in r.json()["items"]] == ["created", "created"], r.text
        for item in items:
            read = (await client.get(f"/v1/signals/{item['id']}", headers=coord)).json()
            assert -602 <= read["clockCorrectionSeconds"] <= -598
            observed = parsed(read["observedAt"])
            assert abs(observed - (datetime.now(UTC) - timedelta(minutes=1))) < timedelta(
                seconds=5)
        arrears = (await client.get(f"/v1/signals/{items[1]['id']}", headers=coord)).json()
        assert parsed(arrears["writtenReminderAt"]) == parsed(arrears["observedAt"])
        assert parsed(arrears["consentRecordedAt"]) == parsed(arrears["observedAt"])

        # The app retries the batch a little later (another sentAt, so another measured
        # skew): every item replays, and what was stored stays as it was.
        before = (await client.get(f"/v1/signals/{items[0]['id']}", headers=coord)).json()
        retry = await client.post(
            "/v1/signals/batch",
            json={"sentAt": at(device_now - timedelta(seconds=7)), "signals": items},
            headers=fw)
        assert [i["result"] for i in retry.json()["items"]] == ["replayed", "replayed"], (
            retry.text)
        after = (await client.get(f"/v1/signals/{items[0]['id']}", headers=coord)).json()
        assert after == before
        # Meanwhile the device's clock was set right: its moments now lie in the future by
        # any measure, yet the same batch is still a replay of what is stored.
        for envelope in ({"sentAt": at(datetime.now(UTC)), "signals": items}, items):
            fixed = await client.post("/v1/signals/batch", json=envelope, headers=fw)
            assert [i["result"] for i in fixed.json()["items"]] == ["replayed", "replayed"], (
                fixed.text)
        # ... but only for its reporter: a colleague's copy stays a refusal of the moment.
        other = await client.post("/v1/signals/batch", json=items,
                                  headers=auth("field-worker", sub="fw-2"))
        assert [i["problem"]["invalidParams"][0]["code"] for i in other.json()["items"]] == [
            "in_future", "in_future"]
        # The same id with another device moment is another body: a conflict, as ever.
        changed = {**items[0], "observedAt": at(seen - timedelta(minutes=1))}
        again = await client.post("/v1/signals/batch",
                                  json={"sentAt": at(device_now), "signals": [changed]},
                                  headers=fw)
        assert again.json()["items"][0]["result"] == "rejected"


async def test_a_device_clock_that_is_right_or_absent(signals_service, auth):
    async with signals_service() as client:
        fw = auth("field-worker", sub="fw-1")
        item = signal_body()
        r = await client.post("/v1/signals/batch",
                              json={"sentAt": at(datetime.now(UTC)), "signals": [item]},
                              headers=fw)
        assert r.json()["created"] == 1, r.text
        read = (await client.get(f"/v1/signals/{item['id']}", headers=fw)).json()
        assert read["clockCorrectionSeconds"] in (-1, 0, 1)
        assert parsed(read["observedAt"]) == parsed(item["observedAt"])
        single = await client.post("/v1/signals", json=signal_body(), headers=fw)
        assert single.json()["clockCorrectionSeconds"] is None  # nothing measured
        listed = (await client.get("/v1/signals", headers=fw)).json()["items"]
        assert {s["clockCorrectionSeconds"] for s in listed} == {
            read["clockCorrectionSeconds"], None}


async def test_a_skew_beyond_a_day_or_a_bad_envelope_is_refused_whole(signals_service, auth):
    async with signals_service() as client:
        fw = auth("field-worker", sub="fw-1")
        item = signal_body()
        far = at(datetime.now(UTC) + timedelta(hours=25))
        r = await client.post("/v1/signals/batch", json={"sentAt": far, "signals": [item]},
                              headers=fw)
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [p["name"] for p in r.json()["invalidParams"]] == ["body.sentAt"]
        r = await client.post("/v1/signals/batch",
                              json={"sentAt": "gisteren", "signals": "geen lijst", "x": 1},
                              headers=fw)
        assert r.status_code == 400
        assert sorted(p["name"] for p in r.json()["invalidParams"]) == [
            "body.sentAt", "body.signals", "body.x"]
        assert (await client.get(f"/v1/signals/{item['id']}", headers=fw)).status_code == 404
        # Item problems are named by where they are in the envelope.
        bad = signal_body(severity="huge")
        r = await client.post("/v1/signals/batch", json={
            "sentAt": at(datetime.now(UTC)), "signals": [bad]}, headers=fw)
        assert r.json()["items"][0]["problem"]["invalidParams"][0]["name"] == (
            "body.signals.0.severity")
