"""The findings' queries: raising one once per (rule, key), the open ones of a settlement, the list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from common.db import table_of
from common.repository import Page, RepositoryBase
from fraud.models import Finding
from fraud.repository import PerDialect, bound_values

_FINDINGS = table_of(Finding)
FINDING_COLUMNS = (
    "rule_id",
    "rule_version",
    "family",
    "category",
    "severity",
    "finding_key",
    "status",
    "setl_id",
    "psn_no",
    "fixmedins_code",
    "message",
    "feedetl_sn",
    "vola_fen",
    "fund_pay_fen",
    "raised_at",
)
_INSERT_FINDING = PerDialect(
    lambda insert: (
        insert(_FINDINGS)
        .values(bound_values(_FINDINGS, FINDING_COLUMNS))
        .on_conflict_do_nothing(index_elements=[_FINDINGS.c.rule_id, _FINDINGS.c.finding_key])
        .returning(_FINDINGS.c.finding_id)
    )
)


class FindingRepository(RepositoryBase[Finding]):
    model = Finding

    async def insert_new(self, values: dict[str, Any]) -> int | None:
        """The new finding's id (`values` of FINDING_COLUMNS); None when the rule already holds a finding under
        this key."""
        finding_id = await self.session.scalar(_INSERT_FINDING.of(self.session), values)
        return None if finding_id is None else int(finding_id)

    async def open_of_settlement(self, setl_id: str, *, status: str) -> Sequence[Finding]:
        """The findings of a settlement in `status`, locked until the transaction ends."""
        rows = await self.session.scalars(
            sa.select(Finding).where(Finding.setl_id == setl_id, Finding.status == status).with_for_update()
        )
        return rows.all()

    async def page(
        self,
        *,
        status: str | None,
        fixmedins_code: str | None,
        rule_id: int | None,
        psn_no: str | None,
        category: str | None,
        family: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Finding]:
        """Findings newest first (by id), those of every filter given."""
        query = sa.select(Finding)
        for column, value in (
            (Finding.status, status),
            (Finding.fixmedins_code, fixmedins_code),
            (Finding.rule_id, rule_id),
            (Finding.psn_no, psn_no),
            (Finding.category, category),
            (Finding.family, family),
        ):
            if value is not None:
                query = query.where(column == value)
        return await self.paginate(query, order_by=[Finding.finding_id], limit=limit, cursor=cursor or None)
