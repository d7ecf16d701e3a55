"""Pharmacies (定点零售药店), projected from settlement.institution.changed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from common.repository import RepositoryBase
from pricing.models import Pharmacy


class PharmacyRepository(RepositoryBase[Pharmacy]):
    model = Pharmacy

    async def replace(self, fixmedins_code: str, values: dict[str, Any]) -> None:
        await self.session.execute(
            sa.update(Pharmacy).where(Pharmacy.fixmedins_code == fixmedins_code).values(**values)
        )

    async def remove(self, pharmacy: Pharmacy) -> None:
        await self.session.delete(pharmacy)

    async def names_of(self, codes: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Each known pharmacy's (name, region)."""
        rows = await self.session.execute(
            sa.select(Pharmacy.fixmedins_code, Pharmacy.fixmedins_name, Pharmacy.admdvs).where(
                Pharmacy.fixmedins_code.in_(codes)
            )
        )
        return {code: (name, region) for code, name, region in rows}
