"""The demo programme "Dicht de kloof", created once (for `make run`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.funding.programmes import repository, service
from services.funding.programmes.schemas import ProgrammeCreate
from services.funding.settings import Settings

DEMO_NAME = "Dicht de kloof"
DEMO_ACTOR = "system:demo"
THEMES = [{"code": "education", "share": "0.3"}, {"code": "labour-market", "share": "0.3"},
          {"code": "housing-quality", "share": "0.25"}, {"code": "safety", "share": "0.15"}]

DEMO_PROGRAMME = ProgrammeCreate.model_validate({
    "name": DEMO_NAME, "currency": "EUR", "firstYear": 2027, "lastYear": 2046,
    "pools": [
        {
            "name": "focus-areas", "annualAmountCents": 400_000_000_00, "indexation": "0.02",
            "eligibility": {"kind": "programme-areas"}, "themes": THEMES,
            "allocationLevel": "programme-area",
            "formula": {"base": "inhabitants",
                        "need": {"indicator": "composite-index", "threshold": "-1"},
                        "floorCents": 2_000_000_00},
        },
        {
            "name": "other-vulnerable-areas", "annualAmountCents": 100_000_000_00,
            "indexation": "0.02",
            "eligibility": {"kind": "other-vulnerable", "minCompositeDecile": 8},
            "themes": THEMES, "allocationLevel": "buurt",
            "formula": {"base": "inhabitants",
                        "need": {"indicator": "composite-index", "threshold": "-1"}},
        },
    ],
})


async def load_demo(sessions: async_sessionmaker[AsyncSession],
                    settings: Settings) -> None:
    """Create the demo programme unless it exists (by name), owned by the organisation of
    `programme_owner_organisation` (demo-municipality): its officers draft, its approvers
    approve."""
    async with sessions() as session, session.begin():
        if await repository.by_name(session, DEMO_NAME) is None:
            await service.create(session, DEMO_PROGRAMME, DEMO_ACTOR,
                                 settings.programme_owner_organisation)
