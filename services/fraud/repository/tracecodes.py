"""Trace codes beyond the claims: POS sale lines, what each settlement added to the scan rate, the counters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from common.db import table_of
from common.repository import RepositoryBase
from fraud.domain.facts import SALE
from fraud.models import CatalogLimit, SaleLine, ScanCount, SettlementScan, TraceCodeUse
from fraud.repository import PerDialect, bound_values, insert_into

_SALES, _SCANS, _COUNTS = table_of(SaleLine), table_of(SettlementScan), table_of(ScanCount)
_CODES, _LIMITS = table_of(TraceCodeUse), table_of(CatalogLimit)
_CHUNK = 500

# Built once with bound parameters (the settle path's consumer runs them per settlement).
_REQUIRING = sa.select(_LIMITS.c.med_list_codg).where(
    _LIMITS.c.med_list_codg.in_(sa.bindparam("items", expanding=True)), _LIMITS.c.trac_codg_required.is_(True)
)
_INSERT_SCAN = sa.insert(_SCANS)


def _count_upsert(insert: Any) -> Any:
    statement = insert(_COUNTS).values(
        bound_values(_COUNTS, ("fixmedins_code", "month", "lines_needing", "lines_scanned", "updated_at"))
    )
    return statement.on_conflict_do_update(
        index_elements=[_COUNTS.c.fixmedins_code, _COUNTS.c.month],
        set_={
            "lines_needing": _COUNTS.c.lines_needing + statement.excluded.lines_needing,
            "lines_scanned": _COUNTS.c.lines_scanned + statement.excluded.lines_scanned,
            "updated_at": statement.excluded.updated_at,
        },
    )


_COUNT = PerDialect(_count_upsert)


class TraceCodeRepository(RepositoryBase[SaleLine]):
    model = SaleLine

    async def requiring_codes(self, items: Sequence[str]) -> set[str]:
        """Which of these catalogue items need a traceability code on their lines."""
        if not items:
            return set()
        return set(await self.session.scalars(_REQUIRING, {"items": list(items)}))

    # --- sales ---------------------------------------------------------------------------------------------

    async def insert_new_sales(self, rows: Sequence[dict[str, Any]]) -> set[str]:
        """Project sale lines (all of one pharmacy); the sale_ids that were new (a line seen before is skipped)."""
        new: set[str] = set()
        for start in range(0, len(rows), _CHUNK):
            inserted = await self.session.scalars(
                insert_into(self.session, _SALES)
                .values(list(rows[start : start + _CHUNK]))
                .on_conflict_do_nothing(index_elements=[_SALES.c.fixmedins_code, _SALES.c.sale_id])
                .returning(_SALES.c.sale_id)
            )
            new.update(inserted)
        return new

    async def standing_sales(self, fixmedins_code: str, sale_ids: Sequence[str]) -> dict[str, SaleLine]:
        """The projected sale lines of these ids (refunded or not), locked until the transaction ends."""
        rows = await self.session.scalars(
            sa.select(SaleLine)
            .where(SaleLine.fixmedins_code == fixmedins_code, SaleLine.sale_id.in_(list(sale_ids)))
            .with_for_update()
        )
        return {row.sale_id: row for row in rows}

    async def free_sale_codes(self, fixmedins_code: str, sale_ids: Sequence[str]) -> None:
        """The codes of refunded sales are free again."""
        await self.session.execute(
            sa.update(_CODES)
            .where(
                _CODES.c.source == SALE,
                _CODES.c.fixmedins_code == fixmedins_code,
                _CODES.c.use_id.in_(list(sale_ids)),
            )
            .values(reversed=True)
        )

    # --- the scan rate -------------------------------------------------------------------------------------

    async def keep_settlement_scan(self, values: dict[str, Any]) -> None:
        await self.session.execute(_INSERT_SCAN, values)

    async def pop_settlement_scan(self, setl_id: str) -> Any:
        """What a settlement added to the scan rate (fixmedins_code, month, needing, scanned), taken away."""
        row = (
            await self.session.execute(
                sa.select(
                    _SCANS.c.fixmedins_code, _SCANS.c.month, _SCANS.c.lines_needing, _SCANS.c.lines_scanned
                ).where(_SCANS.c.setl_id == setl_id)
            )
        ).one_or_none()
        if row is not None:
            await self.session.execute(sa.delete(_SCANS).where(_SCANS.c.setl_id == setl_id))
        return row

    async def count(
        self, fixmedins_code: str, month: str, *, needing: int, scanned: int, now: datetime
    ) -> None:
        """Add to (or, negative, take from) an institution's month of lines needing a code and scanned."""
        await self.session.execute(
            _COUNT.of(self.session),
            {
                "fixmedins_code": fixmedins_code,
                "month": month,
                "lines_needing": needing,
                "lines_scanned": scanned,
                "updated_at": now,
            },
        )

    async def counts_of_month(self, month: str, *, fixmedins_code: str | None) -> Sequence[Any]:
        """(fixmedins_code, lines_needing, lines_scanned) of a month, by institution code."""
        query = sa.select(_COUNTS.c.fixmedins_code, _COUNTS.c.lines_needing, _COUNTS.c.lines_scanned).where(
            _COUNTS.c.month == month
        )
        if fixmedins_code is not None:
            query = query.where(_COUNTS.c.fixmedins_code == fixmedins_code)
        return (await self.session.execute(query.order_by(_COUNTS.c.fixmedins_code))).all()
