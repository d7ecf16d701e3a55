"""What settlement's routes share beyond common.deps: the caller that may be an institution, and its scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from common.deps import PROBLEMS as PROBLEMS
from common.deps import ClockDep as ClockDep
from common.deps import DatabaseDep as DatabaseDep
from common.principal import Principal, Role, require_principal
from common.principal import ensure_scope as ensure_scope

InstitutionPrincipal = Annotated[Principal, Depends(require_principal(Role.OPS, Role.HIS, Role.POS))]
"""Bureau staff, or an institution's HIS/POS (which may act only for its own fixmedins_code)."""
