"""The cases' queries: a case with its findings and history, the case a finding is in, the list."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from common.repository import Page, RepositoryBase
from fraud.models import Case, CaseEvent, CaseFinding, Finding


class CaseRepository(RepositoryBase[Case]):
    model = Case

    def add_finding(self, link: CaseFinding) -> None:
        self.session.add(link)

    def add_event(self, event: CaseEvent) -> None:
        self.session.add(event)

    async def cases_of_findings(self, finding_ids: Sequence[int]) -> dict[int, int]:
        """The case each of these findings is in (finding_id → case_id), for those in one."""
        rows = await self.session.execute(
            sa.select(CaseFinding.finding_id, CaseFinding.case_id).where(
                CaseFinding.finding_id.in_(list(finding_ids))
            )
        )
        return {int(finding_id): int(case_id) for finding_id, case_id in rows}

    async def findings_of(self, case_ids: Sequence[int]) -> dict[int, list[tuple[CaseFinding, Finding]]]:
        """Each case's findings, by finding id."""
        rows = await self.session.execute(
            sa.select(CaseFinding, Finding)
            .join(Finding, Finding.finding_id == CaseFinding.finding_id)
            .where(CaseFinding.case_id.in_(list(case_ids)))
            .order_by(CaseFinding.case_id, CaseFinding.finding_id)
        )
        found: dict[int, list[tuple[CaseFinding, Finding]]] = {case_id: [] for case_id in case_ids}
        for link, finding in rows:
            found[link.case_id].append((link, finding))
        return found

    async def lock_findings(self, case_id: int) -> list[tuple[CaseFinding, Finding]]:
        """A case's findings, locked until the transaction ends."""
        rows = await self.session.execute(
            sa.select(CaseFinding, Finding)
            .join(Finding, Finding.finding_id == CaseFinding.finding_id)
            .where(CaseFinding.case_id == case_id)
            .order_by(CaseFinding.finding_id)
            .with_for_update()
        )
        return [(link, finding) for link, finding in rows]

    async def history(self, case_id: int) -> list[CaseEvent]:
        """A case's transitions, oldest first."""
        rows = await self.session.scalars(
            sa.select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.case_event_id)
        )
        return list(rows.all())

    async def page(
        self, *, status: str | None, fixmedins_code: str | None, limit: int, cursor: str | None
    ) -> Page[Case]:
        """Cases newest first (by id), those of every filter given."""
        query = sa.select(Case)
        if status is not None:
            query = query.where(Case.status == status)
        if fixmedins_code is not None:
            query = query.where(Case.fixmedins_code == fixmedins_code)
        return await self.paginate(query, order_by=[Case.case_id], limit=limit, cursor=cursor or None)
