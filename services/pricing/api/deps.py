"""What pricing's routes share beyond common.deps: who may call them, and the caller's scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from common.principal import Principal, Role, require_principal
from common.principal import ensure_scope as ensure_scope

PharmacyPrincipal = Annotated[Principal, Depends(require_principal(Role.OPS, Role.POS))]
"""Bureau staff, or a pharmacy's POS (which may act only for its own fixmedins_code)."""

AnyPrincipal = Annotated[Principal, Depends(require_principal(Role.OPS, Role.POS, Role.HIS, Role.PUBLIC))]
"""Anyone the gateway lets through, the public included (comparison and drug search only)."""
