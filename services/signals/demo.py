"""Synthetic demo data: ~200 signals of two corporations over demo buurten, with events.

Some residents consented to one purpose (recorded per purpose by the reporter) and their
triaged signals are referred to the municipality's wijkteam or debt help, so
`make token ROLE=partner ORG=demo-municipality TEAM=wijkteam` has an inbox; some tenants
objected to the statutory rent-arrears referral.

Idempotent: ids are derived from a fixed namespace, so a second load adds nothing. Every
signal is marked `synthetic` (also on its events); addresses and notes are made up.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.signals.casework import repository as casework
from services.signals.casework.service import transition
from services.signals.casework.workflow import Outcome, SignalStatus
from services.signals.consents.service import record_consent, record_objection
from services.signals.consents.standing import CONSENT, Entry
from services.signals.crypto.fields import FieldCipher
from services.signals.crypto.keys import Crypto, build_crypto
from services.signals.intake import repository as intake
from services.signals.intake.new_signal import new_signal
from services.signals.intake.schemas import SignalCreate
from services.signals.models import Signal
from services.signals.referrals.service import refer
from services.signals.settings import Settings
from shared.auth import Principal, Role
from shared.db import utcnow
from shared.settings import ServiceSettings

NAMESPACE = uuid.UUID("5d1f0c8e-6a53-4c4e-9a57-0d3c2b1a0001")
COUNT = 200
#: Demo buurten: Rotterdam (GM0599), Amsterdam (GM0363), Den Haag (GM0518), in the synthetic
#: wijken (X0, X1, ...) that the indicators demo registers, so demo signals land in known areas.
AREAS = {
    "demo-corp-a": [f"BU0599X{w}{b:02d}" for w in (0, 1, 2) for b in (1, 2, 3)]
    + [f"BU0518X{w}{b:02d}" for w in (0, 1) for b in (1, 2)],
    "demo-corp-b": [f"BU0363X{w}{b:02d}" for w in (0, 1, 2) for b in (1, 2, 3)],
}
POSTCODE_RANGES = {"0599": (3011, 3089), "0518": (2511, 2599), "0363": (1011, 1109)}
CATEGORIES: list[tuple[str, str | None, int]] = [
    ("rent-arrears", None, 20), ("financial-worries", None, 10), ("nuisance", "noise", 12),
    ("nuisance", "drugs", 4), ("neglect", "hoarding", 6), ("unsafe-situation", "danger", 3),
    ("care-need", "confused-behaviour", 6), ("loneliness", None, 14),
    ("youth-concern", None, 5), ("housing-quality", "mould", 12), ("other", None, 3),
]
SEVERITIES = (("low", 35), ("medium", 40), ("high", 20), ("acute", 5))
NOTES = ("Bewoner maakt een verwarde indruk.", "Post stapelt zich op achter de deur.",
         "Buren melden geluidsoverlast in de nacht.", "Huurder vraagt om hulp met brieven.",
         "Schimmel in de badkamer, kinderen hoesten.", None, None)


def _body(rng: random.Random, index: int, organisation: str) -> dict[str, Any]:
    now = utcnow()
    category, subcategory, _ = rng.choices(CATEGORIES, weights=[c[2] for c in CATEGORIES])[0]
    area = rng.choice(AREAS[organisation])
    severity = rng.choices([s for s, _ in SEVERITIES], weights=[w for _, w in SEVERITIES])[0]
    observed = now - timedelta(days=rng.randint(0, 300), minutes=rng.randint(0, 1440))
    body: dict[str, Any] = {
        "id": str(uuid.uuid5(NAMESPACE, f"{organisation}:{index}")), "category": category,
        "subcategory": subcategory, "observedAt": observed.isoformat(), "severity": severity,
        "areaCode": area, "note": rng.choice(NOTES),
    }
    if rng.random() < 0.5:
        low, high = POSTCODE_RANGES[area[2:6]]
        letters = rng.choice(["AB", "BC", "CD", "EK", "GL", "HM", "KP", "LR", "XZ"])
        body |= {"postcode": f"{rng.randint(low, high)}{letters}",
                 "houseNumber": rng.randint(1, 250)}
    else:
        body["unitRef"] = f"DEMO-{rng.randint(1000, 9999)}"
    if category == "rent-arrears":
        body |= {"arrearsAmountCents": rng.randint(20_000, 450_000),
                 "arrearsSince": (observed - timedelta(days=60)).date().isoformat()}
        if rng.random() < 0.6:
            body |= {"personalContactAttemptedAt": (observed - timedelta(days=20)).isoformat(),
                     "debtHelpPointedAt": (observed - timedelta(days=15)).isoformat(),
                     "writtenReminderAt": (observed - timedelta(days=10)).isoformat()}
    return {k: v for k, v in body.items() if v is not None}


def _progress(session: AsyncSession, rng: random.Random, signal: Signal, coordinator: Principal,
              source: str, cipher: FieldCipher) -> None:
    """Move some signals along the workflow, so lists, SLAs and history look lived-in."""
    roll = rng.random()
    if roll < 0.35:
        return
    transition(session, signal, SignalStatus.TRIAGED, coordinator, source, cipher,
               reason="demo triage")
    if roll < 0.6:
        return
    transition(session, signal, SignalStatus.IN_PROGRESS, coordinator, source, cipher)
    if roll < 0.8:
        return
    transition(session, signal, SignalStatus.RESOLVED, coordinator, source, cipher,
               outcome=rng.choice([Outcome.CONTACT_MADE, Outcome.HELP_ACCEPTED]))


#: The consent purpose a demo resident agrees to, by category (one consent, one purpose).
CONSENT_PURPOSES = {"loneliness": "wijkteam-support", "care-need": "wijkteam-support",
                    "youth-concern": "wijkteam-support", "financial-worries": "debt-help-referral"}
PARTNER = "demo-municipality"


async def _consent_and_refer(session: AsyncSession, rng: random.Random, signal: Signal,
                             reporter: Principal, coordinator: Principal, source: str,
                             cipher: FieldCipher) -> None:
    """A third of the residents consent at the door; a triaged signal then goes to the
    partner for that purpose. Some rent-arrears tenants object to vroegsignalering."""
    await session.flush()  # the signal first: its consent records refer to it
    if signal.category == "rent-arrears" and rng.random() < 0.2:
        await record_objection(session, signal, reporter, "vroegsignalering-schulden",
                               signal.recorded_at, source, cipher)
    purpose = CONSENT_PURPOSES.get(signal.category)
    if purpose is None or rng.random() >= 0.35:
        return
    given = record_consent(session, signal, reporter, purpose, signal.recorded_at)
    if signal.status == SignalStatus.TRIAGED:
        consent = [Entry(purpose, CONSENT, given.given_at, given.recorded_by, given.recorded_at)]
        refer(session, signal, PARTNER, purpose, coordinator, source, cipher, consent)


async def load_demo(sessions: async_sessionmaker[AsyncSession],
                    settings: ServiceSettings) -> int:
    """Insert the demo signals that are missing; returns how many were added."""
    assert isinstance(settings, Settings)
    crypto: Crypto = build_crypto(settings)
    source = settings.cloudevents_source()
    rng = random.Random(20_251_128)  # noqa: S311 (demo data, not security)
    bodies = [(org, _body(rng, i, org)) for i in range(COUNT // 2)
              for org in ("demo-corp-a", "demo-corp-b")]
    added = 0
    async with sessions() as session, session.begin():
        ids = [uuid.UUID(b["id"]) for _, b in bodies]
        existing = await casework.existing_ids(session, ids)
        for org, raw in bodies:
            if uuid.UUID(raw["id"]) in existing:
                continue
            body = SignalCreate.model_validate(raw)
            reporter = Principal(f"demo-field-worker@{org}", org, frozenset({Role.FIELD_WORKER}))
            coordinator = Principal(f"demo-coordinator@{org}", org,
                                    frozenset({Role.COORDINATOR}))
            new = new_signal(body, reporter, crypto, source, None, synthetic=True)
            await intake.insert_new(await session.connection(), [new])
            signal = await session.get_one(Signal, new.id)
            _progress(session, rng, signal, coordinator, source, crypto.cipher)
            await _consent_and_refer(session, rng, signal, reporter, coordinator, source,
                               crypto.cipher)
            added += 1
    return added
