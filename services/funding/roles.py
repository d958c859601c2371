"""Who may do what in the funding service."""

from __future__ import annotations

from shared.auth import Role

READERS = (Role.PROGRAMME_OFFICER, Role.PROGRAMME_APPROVER, Role.ANALYST, Role.ADMIN)
DRAFTERS = (Role.PROGRAMME_OFFICER,)
APPROVERS = (Role.PROGRAMME_APPROVER,)
