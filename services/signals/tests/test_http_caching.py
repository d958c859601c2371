"""Caching of the signals service's reads: the taxonomy public and versioned, the rest no-store."""

from __future__ import annotations

from services.signals.categories.taxonomy import load_taxonomy
from services.signals.tests.conftest import create


async def test_the_taxonomy_is_cacheable_versioned_and_revalidates(signals_service, auth):
    async with signals_service() as client:
        headers = auth("analyst", "demo-municipality")
        r = await client.get("/v1/categories", headers=headers)
        assert r.status_code == 200
        assert r.headers["Cache-Control"] == "public, max-age=300"
        assert r.json()["version"] == load_taxonomy().version
        assert "Authorization" not in r.headers.get("Vary", "")  # the same for every caller
        etag = r.headers["ETag"]

        same = await client.get("/v1/categories", headers={**headers, "If-None-Match": etag})
        assert same.status_code == 304 and same.content == b""
        assert same.headers["ETag"] == etag
        assert same.headers["Cache-Control"] == "public, max-age=300"

        # Without a valid token: refused and kept nowhere, validator or not.
        refused = await client.get("/v1/categories", headers={"If-None-Match": etag})
        assert refused.status_code == 401
        assert refused.headers["Cache-Control"] == "no-store"


async def test_reads_of_signals_are_no_store_with_a_validator(signals_service, auth):
    async with signals_service() as client:
        worker = auth("field-worker", sub="worker-1")
        signal = await create(client, worker)
        r = await client.get("/v1/signals", headers=worker)
        assert r.status_code == 200
        assert r.headers["Cache-Control"] == "no-store"
        assert r.headers["Vary"].split(", ") == ["Authorization", "Accept-Language"]
        etag = r.headers["ETag"]
        r = await client.get("/v1/signals", headers={**worker, "If-None-Match": etag})
        assert r.status_code == 304 and r.content == b""
        assert r.headers["Cache-Control"] == "no-store"

        # Personal data (read with a purpose): no-store; its ETag is the version for If-Match.
        r = await client.get(f"/v1/signals/{signal['id']}?purpose=case-handling",
                             headers=worker)
        assert r.status_code == 200
        assert r.headers["Cache-Control"] == "no-store"
        assert r.headers["ETag"] == f'"{r.json()["version"]}"'
