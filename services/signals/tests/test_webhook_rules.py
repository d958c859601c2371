"""The pure rules of the webhooks: formats, backoff, the SSRF check and the signature (checked
against the `standardwebhooks` library)."""

from __future__ import annotations

import ipaddress
import time
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from services.signals.webhooks import events, formats, signing, targets
from services.signals.webhooks.delivery import backoff_s, pinned
from services.signals.webhooks.schemas import WebhookFormat

STATUS = {"type": "signal.status-changed", "occurredAt": "2026-12-04T10:00:00+00:00",
          "signalId": "s-1", "resourcePath": "/v1/signals/s-1"}


def test_a_status_change_in_both_formats():
    assert orjson.loads(formats.render(WebhookFormat.STANDARD_WEBHOOKS, STATUS,
                                       "https://api.example.nl/")) == {
        "type": "signal.status-changed", "timestamp": "2026-12-04T10:00:00+00:00",
        "data": {"signalId": "s-1", "resourceUrl": "https://api.example.nl/v1/signals/s-1"}}
    zgw = orjson.loads(formats.render(WebhookFormat.ZGW, STATUS, "https://api.example.nl"))
    assert zgw == {"kanaal": "signalen", "hoofdObject": "https://api.example.nl/v1/signals/s-1",
                   "resource": "signaal", "resourceUrl": "https://api.example.nl/v1/signals/s-1",
                   "actie": "partial_update", "aanmaakdatum": "2026-12-04T10:00:00+00:00",
                   "kenmerken": {"gebeurtenis": "signal.status-changed", "signalId": "s-1"}}


def test_backoff_doubles_with_jitter_up_to_the_cap_and_spans_about_a_day():
    for attempt in range(1, 40):
        ceiling = min(5 * 2 ** (attempt - 1), 3600)
        assert ceiling / 2 <= backoff_s(attempt, 5, 3600) <= ceiling
    attempts, waited = 0, 0.0
    while waited < 86_400:
        attempts += 1
        waited += backoff_s(attempts, 5, 3600)
    assert 25 <= attempts <= 60


def test_our_signature_verifies_with_the_standardwebhooks_library_and_both_secrets():
    old, new = signing.new_secret(), signing.new_secret()
    body = b'{"type":"referral.created"}'
    headers = signing.headers([new, old], "msg_1", int(time.time()), body)
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {"type": "referral.created"}
    with pytest.raises(Exception, match="signature"):
        Webhook(signing.new_secret()).verify(body, headers)


def _ips(*values: str) -> list[targets.IPAddress]:
    return [ipaddress.ip_address(v) for v in values]


def test_every_address_of_a_host_must_be_public():
    target = targets.parse("https://partner.example.nl/h", allow_loopback=False)
    assert str(targets.check_addresses(target, _ips("93.184.216.34"),
                                       allow_loopback=False)) == "93.184.216.34"
    for bad in ("10.0.0.1", "100.64.0.1", "fe80::1", "fd00::1", "0.0.0.0", "224.0.0.1"):
        with pytest.raises(targets.TargetRefused):
            targets.check_addresses(target, _ips("93.184.216.34", bad), allow_loopback=False)
    with pytest.raises(targets.TargetRefused, match="does not resolve"):
        targets.check_addresses(target, [], allow_loopback=False)
    loopback = targets.parse("http://localhost:8080/h", allow_loopback=True)
    assert targets.check_addresses(loopback, _ips("127.0.0.1", "::1"), allow_loopback=True)


def test_the_request_goes_to_the_checked_address_under_the_named_host():
    target = targets.parse("https://partner.example.nl:8443/hooks?x=1", allow_loopback=False)
    url, host, extensions = pinned(target, ipaddress.ip_address("2001:db8::5"))
    assert url == "https://[2001:db8::5]:8443/hooks?x=1"
    assert host == {"host": "partner.example.nl:8443"}
    assert extensions == {"sni_hostname": "partner.example.nl"}


@pytest.mark.parametrize("address", [
    "2002:a00:1::1",  # 6to4 of 10.0.0.1: a 6to4 relay delivers it inside
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 of the cloud metadata address
    "fec0::1",  # site-local (deprecated, still routed inside some sites)
    "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "64:ff9b::a00:1",
])
def test_ipv6_forms_of_inside_addresses_are_refused(address):
    target = targets.parse("https://partner.example.nl/h", allow_loopback=False)
    with pytest.raises(targets.TargetRefused, match="private"):
        targets.check_addresses(target, _ips(address), allow_loopback=False)


@pytest.mark.parametrize("url", [
    "https://2130706433/h", "https://0x7f.0.0.1/h", "https://017700000001/h",
    "https://127.1/h", "https://[::ffff:7f00:1]/h",
])
async def test_numeric_spellings_of_loopback_are_refused(url):
    with pytest.raises(targets.TargetRefused):
        await targets.checked(url, allow_loopback=False)


def test_a_public_address_in_6to4_is_still_allowed():
    target = targets.parse("https://partner.example.nl/h", allow_loopback=False)
    assert targets.check_addresses(target, _ips("2002:5db8:d822::1"), allow_loopback=False)


class _Session:
    def __init__(self) -> None:
        self.info: dict[str, object] = {}
        self.added: list[object] = []

    def add(self, row: object) -> None:
        self.added.append(row)


def test_the_partner_is_not_told_the_signal_id_its_api_withholds():
    """The partner's API shows a referral without its signal (PartnerReferral has no
    signalId): a notification must not tell it more, or two referrals of one household
    could be linked by it. The reporting organisation owns the signal and hears its id."""
    referral = SimpleNamespace(id=uuid.uuid4(), signal_id=uuid.uuid4(),
                               organisation="demo-corp-a", partner_organisation="demo-ggz")
    session = _Session()
    events.referral_step(session, referral, "sent")
    events.referral_erased(session, referral, datetime.now(UTC))
    sent = [(row.organisation, orjson.loads(row.data)) for row in session.added]
    to_partner = [data for org, data in sent if org == "demo-ggz"]
    to_reporter = [data for org, data in sent if org == "demo-corp-a"]
    assert len(to_partner) == len(to_reporter) == 2
    for data in to_partner:
        assert str(referral.signal_id) not in orjson.dumps(data).decode()
        assert data["referralId"] == str(referral.id)
        assert data["resourcePath"] == f"/v1/referrals/{referral.id}"
    for data in to_reporter:
        assert data["signalId"] == str(referral.signal_id)


@pytest.mark.parametrize("url", ["https://a..b/h", "https://" + "a" * 70 + ".nl/h"])
async def test_a_host_name_idna_cannot_encode_is_refused_not_a_crash(url):
    """getaddrinfo raises UnicodeError (not OSError) for an empty or over-long label: it was
    a 500 at subscription time; now a 400 like any host that does not resolve."""
    with pytest.raises(targets.TargetRefused, match="does not resolve"):
        await targets.checked(url, allow_loopback=False)
