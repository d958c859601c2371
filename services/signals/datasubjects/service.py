"""Data-subject rights (GDPR art. 15 and 17) for one household of the controller."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.accesslog import repository as access_log
from services.signals.accesslog import views as access_log_views
from services.signals.casework import repository as casework
from services.signals.casework import views
from services.signals.casework.service import consent_entries
from services.signals.crypto.keys import Crypto
from services.signals.datasubjects import repository
from services.signals.datasubjects.schemas import (
    DataSubjectErasure,
    DataSubjectExport,
    DataSubjectQuery,
    OutcomeNoteRead,
    SignalHistory,
)
from services.signals.models import Outbox
from services.signals.referrals import repository as referrals
from services.signals.referrals.steps import NOTE_FIELD, open_note
from services.signals.retention.purge import forget, strip_personal_data
from services.signals.webhooks import events as webhook_events
from shared.auth import Principal, Role
from shared.contracts.signals import SIGNAL_ERASED, SignalErased
from shared.db import utcnow
from shared.outbox import record_event

EXPORT_PURPOSE = "data-subject-access"
ERASURE_REASON = "data-subject-request"  # GDPR art. 17


async def export(session: AsyncSession, query: DataSubjectQuery, principal: Principal,
                 crypto: Crypto) -> DataSubjectExport:
    pseudonym = crypto.pseudonymiser.operational(query.household(principal.organisation))
    signals = await repository.household_signals(session, principal.organisation, pseudonym)
    reads, histories, notes = [], [], []
    for signal in signals:
        personal = views.decrypt_personal(signal, crypto.cipher)
        referrals = await casework.referrals_of(session, signal.id)
        notes += [OutcomeNoteRead(signal_id=signal.id, referral_id=r.id, outcome_note=note)
                  for r in referrals if (note := open_note(crypto.cipher, r)) is not None]
        consent = await consent_entries(session, signal)
        reads.append(views.full(signal, referrals, personal, consent=consent))
        histories.append(SignalHistory(signal_id=signal.id, items=[
            views.status_change(row, crypto.cipher)
            for row in await casework.history(session, signal.id)]))
    ids = [str(s.id) for s in signals]
    disclosures = await access_log.search(session, principal.organisation, record_ids=ids,
                                          limit=10_000) if ids else []
    for read, history in zip(reads, histories, strict=True):  # the export is a read too
        fields = views.present_personal_fields(read.personal_data) if read.personal_data else []
        if any(item.reason_given for item in history.items):
            fields.append(views.REASON_LOGGED_AS)
        if fields:
            await access_log.append(
                session, principal, key=crypto.access_log_key,
                role=Role.PRIVACY_OFFICER.value, purpose=EXPORT_PURPOSE,
                record_type="signal", record_id=read.id, fields=fields,
                controller=principal.organisation)
    for shared in notes:
        await access_log.append(
            session, principal, key=crypto.access_log_key, role=Role.PRIVACY_OFFICER.value,
            purpose=EXPORT_PURPOSE, record_type="referral", record_id=shared.referral_id,
            fields=[NOTE_FIELD], controller=principal.organisation)
    return DataSubjectExport(signals=reads, histories=histories, outcome_notes=notes,
                             disclosures=[access_log_views.entry(r) for r in disclosures])


async def erase(session: AsyncSession, query: DataSubjectQuery, principal: Principal,
                crypto: Crypto, source: str) -> DataSubjectErasure:
    """Strip personal data and pseudonyms; `signal-erased` tells consumers to forget."""
    pseudonym = crypto.pseudonymiser.operational(query.household(principal.organisation))
    signals = await repository.household_signals(session, principal.organisation, pseudonym)
    now = utcnow()
    for signal in signals:
        stats = signal.household_stats_pseudonym
        strip_personal_data(signal, now)
        signal.erased_at = now
        if stats is not None:
            record_event(
                session, Outbox, SIGNAL_ERASED,
                SignalErased(signal_id=signal.id, area_code=signal.area_code, erased_at=now),
                key=signal.area_code, source=source, subject=str(signal.id))
    # Partners that received a referral of the household hear of the erasure (ids only).
    for referral in await referrals.of_signals(session, [s.id for s in signals]):
        webhook_events.referral_erased(session, referral, now)
    if signals:
        await forget(session, signals, kind="erasure",
                     organisation=principal.organisation, actor=principal.subject,
                     actor_role=Role.PRIVACY_OFFICER.value, reason=ERASURE_REASON, at=now)
    return DataSubjectErasure(erased=len(signals), signal_ids=[s.id for s in signals])
