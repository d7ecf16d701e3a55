"""What enrollment's routes share beyond common.deps: who may look persons up, and the resident policy."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from common.principal import Principal, Role, require_principal
from enrollment.domain.waiting import ResidentPolicy

LookupPrincipal = Annotated[Principal, Depends(require_principal(Role.OPS, Role.HIS, Role.POS))]
"""Bureau staff, or a hospital's HIS or a pharmacy's POS identifying a patient."""


async def _policy(request: Request) -> ResidentPolicy:
    policy: ResidentPolicy = request.app.state.resident_policy
    return policy


PolicyDep = Annotated[ResidentPolicy, Depends(_policy)]
"""The resident rules (waiting periods, incentives) the service was configured with."""
