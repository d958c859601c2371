"""Uploading a Kerncijfers file: a raw CSV body or a browser's multipart file upload.

The multipart upload is also sent to a real uvicorn process: the connection reset seen there
is the server's behaviour, which an in-process ASGI client does not show.
"""

from __future__ import annotations

import http.client
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.procs import uvicorn
from services.indicators.tests.conftest import TEST_CELL_KEY_SECRET
from tools.broker import EmbeddedBroker
from tools.migrate import upgrade

DATA = Path(__file__).parent / "data"
CSV = {"Content-Type": "text/csv"}
KWB = DATA / "kwb-2023-utrecht.csv"


def multipart(name: str, content: bytes, field: str = "file",
              content_type: str = "text/csv") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n").encode()
    body += content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def test_a_browser_file_upload_imports_like_a_raw_body(indicators, auth):
    admin = auth("admin")
    content = (DATA / "kerncijfers_2023_nieuwegein_comma.csv").read_bytes()
    body, content_type = multipart("kerncijfers.csv", content)
    async with indicators() as svc:
        r = await svc.client.post("/v1/areas/import?year=2023", content=body,
                                  headers={**admin, "Content-Type": content_type})
        assert r.status_code == 200, r.text
        assert r.json()["imported"] == 4  # and NL00, not in the file, as the root
        r = await svc.client.post("/v1/areas/import?year=2023", content=content,
                                  headers={**admin, **CSV})
        assert r.status_code == 200, r.text
        assert r.json()["unchanged"] == 4


async def test_a_multipart_upload_without_a_file_is_a_400_naming_the_field(indicators, auth):
    admin = auth("admin")
    body, content_type = multipart("x.csv", b"Codering_3;AantalInwoners_5\nGM0014;5\n",
                                   field="other")
    async with indicators() as svc:
        r = await svc.client.post("/v1/areas/import?year=2023", content=body,
                                  headers={**admin, "Content-Type": content_type})
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["detail"] == ("een multipart-upload stuurt het bestand in een veld met "
                                      "de naam 'file' (met een bestandsnaam)")  # nl default
        r = await svc.client.post("/v1/areas/import?year=2023", content=b"--x\r\nbroken",
                                  headers={**admin,
                                           "Content-Type": "multipart/form-data; boundary=x"})
        assert r.status_code == 400, r.text


async def test_malformed_files_are_400_problems_never_500(indicators, auth):
    admin = auth("admin")
    bad = [
        b"Codering_3;AantalInwoners_5\r\nGM0014;\"5\rGM0080;6",
        b'Codering_3;"AantalInwoners_5\nGM0014;5\n',
        b"\xef\xbb\xbf",
        b"\r\r\r",
        "Codering_3;AantalInwoners_5\nGM0014;5\n".encode("utf-16-le"),  # no BOM: binary
        b"gwb_code_10;recs;a_inw\n",
    ]
    async with indicators() as svc:
        for content in bad:
            r = await svc.client.post("/v1/areas/import?year=2023", content=content,
                                      headers={**admin, **CSV})
            assert r.status_code == 400, (content, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")


async def test_old_mac_line_endings_import(indicators, auth):
    admin = auth("admin")
    content = b"Codering_3;AantalInwoners_5\rGM0014;238147\rGM0080;1.000\r"
    async with indicators() as svc:
        r = await svc.client.post("/v1/areas/import?year=2023", content=content,
                                  headers={**admin, **CSV})
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["imported"] == 1
        assert [row["code"] for row in report["rejected"]] == ["GM0080"]  # 1.000: ambiguous


async def test_the_kwb_file_imports(indicators, auth):
    admin = auth("admin")
    async with indicators() as svc:
        r = await svc.client.post("/v1/areas/import?year=2023", content=KWB.read_bytes(),
                                  headers={**admin, **CSV})
        assert r.status_code == 200, r.text
        area = (await svc.client.get("/v1/areas/BU03440101", headers=admin)).json()
        stats = area["statistics"][0]
        assert area["name"] == "Binnenstad-Noord"
        assert stats["inhabitants"] == 1835 and stats["meanWozValue"] == 412_000


@pytest.fixture
def indicators_process(tmp_path: Path, broker: EmbeddedBroker, key_dir: Path
                       ) -> Iterator[int]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'indicators.db'}"
    upgrade("indicators", url)
    env = {"DDK_INDICATORS_DATABASE_URL": url,
           "DDK_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
           "DDK_AUTH_PUBLIC_KEY_FILE": str(key_dir / "issuer-public.pem"),
           "DDK_INDICATORS_RELAY_ENABLED": "false", "DDK_INDICATORS_CONSUMER_ENABLED": "false",
           "DDK_INDICATORS_INDICATOR_PUBLISHER_ENABLED": "false",
           "DDK_INDICATORS_CELL_KEY_SECRET": TEST_CELL_KEY_SECRET,
           "DDK_RATE_LIMIT_PER_SECOND": "0", "DDK_LOG_LEVEL": "WARNING"}
    with uvicorn("services.indicators.app:app", env, factory=True) as (port, _proc):
        yield port


@pytest.mark.timeout(120)
def test_a_multipart_upload_over_real_http_is_answered(indicators_process, auth):
    content = KWB.read_bytes()
    body, content_type = multipart("kwb-2023.csv", content)
    conn = http.client.HTTPConnection("127.0.0.1", indicators_process, timeout=30)
    try:
        conn.request("POST", "/v1/areas/import?year=2023", body=body,
                     headers={**auth("admin"), "Content-Type": content_type})
        response = conn.getresponse()
        answer = response.read()
    finally:
        conn.close()
    assert response.status == 200, answer


@pytest.mark.timeout(120)
def test_a_large_multipart_upload_over_real_http_is_answered(indicators_process, auth):
    note = "x" * 200  # a wide column we do not read: a large file of few rows
    rows = [f"WK{g:04d}{w:02d};Wijk {w};Wijk;{w * 10};{note}"
            for g in range(1, 300) for w in range(100)]
    content = ("gwb_code_10;regio;recs;a_inw;opm\n" + "\n".join(rows) + "\n").encode()
    assert len(content) > 5 * 1024 * 1024  # over the JSON body limit, under the CBS one
    body, content_type = multipart("kwb-2023.csv", content)
    conn = http.client.HTTPConnection("127.0.0.1", indicators_process, timeout=60)
    try:
        conn.request("POST", "/v1/areas/import?year=2023", body=body,
                     headers={**auth("admin"), "Content-Type": content_type})
        response = conn.getresponse()
        answer = response.read()
    finally:
        conn.close()
    assert response.status == 200, answer[:500]


async def test_an_upload_is_not_read_before_the_token_is_checked(indicators, auth):
    """A partner's multipart upload is refused, its body never parsed (no 400 about it)."""
    body, content_type = multipart("x.csv", b"broken", field="other")
    async with indicators() as svc:
        for path in ("/v1/areas/import?year=2023", "/v1/area-geometries/import"):
            r = await svc.client.post(path, content=body, headers={
                **auth("partner", "demo-partner"), "Content-Type": content_type})
            assert r.status_code == 403, r.text
