"""Typed dependencies of the funding endpoints: who is asking, and the service's settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.funding.roles import APPROVERS, DRAFTERS, READERS
from services.funding.settings import Settings
from shared.auth import Principal, require_roles
from shared.runtime import settings_of


async def funding_settings(request: Request) -> Settings:
    settings = settings_of(request)
    assert isinstance(settings, Settings)
    return settings


# Any reader role of any organisation: allocations are not personal data.
Reader = Annotated[Principal, require_roles(*READERS)]
# Programme officers; whether of the programme's organisation is the service's check.
Drafter = Annotated[Principal, require_roles(*DRAFTERS)]
Approver = Annotated[Principal, require_roles(*APPROVERS)]
SettingsDep = Annotated[Settings, Depends(funding_settings)]
