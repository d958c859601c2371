"""What the signals endpoints receive from FastAPI, as typed `Annotated` aliases.

An endpoint names what it needs (`principal: Coordinator`, `crypto: CryptoDep`,
`session: SessionDep`) and this module says where it comes from: the token's roles, the
runtime's key material and settings, the request's unit of work.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Request

from services.signals.crypto.keys import Crypto
from services.signals.runtime import SignalsRuntime
from services.signals.settings import Settings
from shared.auth import CurrentPrincipal, Principal, Role, require_roles
from shared.runtime import SessionDep, runtime_of

__all__ = [
    "Admin", "Coordinator", "CryptoDep", "CurrentPrincipal", "Partner", "PrivacyOfficer",
    "ReferralId", "Reporter", "SessionDep", "SettingsDep", "SignalId", "Staff", "signals_runtime",
]


def signals_runtime(request: Request) -> SignalsRuntime:
    rt = runtime_of(request)
    assert isinstance(rt, SignalsRuntime)
    return rt


async def _crypto(request: Request) -> Crypto:
    return signals_runtime(request).crypto


async def _settings(request: Request) -> Settings:
    s = signals_runtime(request).settings
    assert isinstance(s, Settings)
    return s


CryptoDep = Annotated[Crypto, Depends(_crypto)]
SettingsDep = Annotated[Settings, Depends(_settings)]

# Principals by role (`require_roles` gives the dependency; a missing role is a 403).
#: Field workers and coordinators of a corporation: case work and consent.
Staff = Annotated[Principal, require_roles(Role.FIELD_WORKER, Role.COORDINATOR)]
#: Who may report a signal (the same roles as `Staff`, named for intake).
Reporter = Staff
Coordinator = Annotated[Principal, require_roles(Role.COORDINATOR)]
Partner = Annotated[Principal, require_roles(Role.PARTNER)]
PrivacyOfficer = Annotated[Principal, require_roles(Role.PRIVACY_OFFICER)]
#: An organisation's administrator: its webhook subscriptions.
Admin = Annotated[Principal, require_roles(Role.ADMIN)]

SignalId = Annotated[uuid.UUID, Path(alias="signalId")]
ReferralId = Annotated[uuid.UUID, Path(alias="referralId")]
