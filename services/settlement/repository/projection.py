"""Settlement's projection of enrollment: insured persons, coverages, family bindings, account credits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from common.db import table_of
from common.repository import RepositoryBase
from settlement.domain.ledger import Leg, balanced
from settlement.models import (
    CoverageProjection,
    FamilyBinding,
    InsuredPerson,
    Journal,
    JournalLeg,
    PersonalAccount,
)

_ACCOUNT, _JOURNAL, _LEG = table_of(PersonalAccount), table_of(Journal), table_of(JournalLeg)
# Built once: a credit by person (executemany over the persons of a batch).
_CREDIT = (
    sa.update(_ACCOUNT)
    .where(_ACCOUNT.c.psn_no == sa.bindparam("p_psn_no"))
    .values(balc_fen=_ACCOUNT.c.balc_fen + sa.bindparam("p_amount_fen"), updated_at=sa.bindparam("p_now"))
)


def insert_for(session: AsyncSession, model: type[Any]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that speaks the session's dialect, for ON CONFLICT (both SQLite and PostgreSQL have it)."""
    if session.get_bind().dialect.name == "sqlite":
        return sqlite.insert(model)
    return postgresql.insert(model)


class ProjectionRepository(RepositoryBase[InsuredPerson]):
    model = InsuredPerson

    async def upsert_person(self, values: dict[str, Any], *, now: datetime) -> None:
        """Insert the person, or refresh what registration says (never the recorded death)."""
        statement = insert_for(self.session, InsuredPerson).values(**values, death_date=None, updated_at=now)
        refreshed = {name: value for name, value in values.items() if name != "psn_no"}
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[InsuredPerson.psn_no], set_={**refreshed, "updated_at": now}
            )
        )

    async def mark_deceased(self, psn_no: str, death_date: date, *, now: datetime) -> bool:
        """Record a death; False when the person is not in the projection."""
        updated = await self.session.execute(
            sa.update(InsuredPerson)
            .where(InsuredPerson.psn_no == psn_no)
            .values(death_date=death_date, updated_at=now)
            .returning(InsuredPerson.psn_no)
        )
        return updated.scalar_one_or_none() is not None

    async def upsert_coverage(self, coverage_id: int, state: dict[str, Any]) -> None:
        """Store a coverage's state unless a newer event's (by `source_time`) is already stored."""
        statement = insert_for(self.session, CoverageProjection).values(coverage_id=coverage_id, **state)
        # The condition sits in the upsert itself, so two replicas applying two versions at once cannot
        # interleave a read and a write: whichever commits last, the newer event's state stays.
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[CoverageProjection.coverage_id],
                set_=state,
                where=CoverageProjection.source_time <= statement.excluded.source_time,
            )
        )

    async def upsert_persons(self, rows: Sequence[dict[str, Any]], *, now: datetime) -> None:
        """`upsert_person` of many persons in one statement (one row per psn_no, in psn_no order)."""
        if not rows:
            return
        statement = insert_for(self.session, InsuredPerson).values(
            [{**row, "death_date": None, "updated_at": now} for row in rows]
        )
        refreshed = [name for name in rows[0] if name != "psn_no"]
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[InsuredPerson.psn_no],
                set_={**{name: statement.excluded[name] for name in refreshed}, "updated_at": now},
            )
        )

    async def upsert_coverages(self, states: Sequence[dict[str, Any]]) -> None:
        """`upsert_coverage` of many coverages in one statement (one row per coverage_id, in id order)."""
        if not states:
            return
        statement = insert_for(self.session, CoverageProjection).values(list(states))
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[CoverageProjection.coverage_id],
                set_={name: statement.excluded[name] for name in states[0] if name != "coverage_id"},
                where=CoverageProjection.source_time <= statement.excluded.source_time,
            )
        )

    async def lock_accounts(self, psn_nos: Sequence[str], *, now: datetime) -> None:
        """`lock_account` of many persons: the rows created empty if need be, then locked in psn_no order."""
        ordered = sorted(set(psn_nos))
        if not ordered:
            return
        await self.session.execute(
            insert_for(self.session, PersonalAccount)
            .values([{"psn_no": psn_no, "balc_fen": 0, "updated_at": now} for psn_no in ordered])
            .on_conflict_do_nothing(index_elements=[PersonalAccount.psn_no])
        )
        await self.session.execute(
            sa.select(_ACCOUNT.c.psn_no)
            .where(_ACCOUNT.c.psn_no.in_(ordered))
            .order_by(_ACCOUNT.c.psn_no)
            .with_for_update()
        )

    async def journals_posted(self, kind: str, refs: Sequence[str]) -> set[str]:
        """Of these references, those with a journal of that kind."""
        if not refs:
            return set()
        rows = await self.session.scalars(
            sa.select(_JOURNAL.c.ref).where(_JOURNAL.c.kind == kind, _JOURNAL.c.ref.in_(sorted(set(refs))))
        )
        return set(rows)

    async def credit_accounts(self, amounts: dict[str, int], *, now: datetime) -> None:
        """`credit_account` of many persons (their rows locked by `lock_accounts`)."""
        if amounts:
            await self.session.execute(
                _CREDIT,
                [
                    {"p_psn_no": psn_no, "p_amount_fen": amount, "p_now": now}
                    for psn_no, amount in sorted(amounts.items())
                ],
            )

    async def post_journals(
        self, kind: str, journals: Sequence[tuple[str, date, Sequence[Leg]]], *, now: datetime
    ) -> None:
        """Journals of one kind, each (ref, business date, legs) balanced: two statements for them all."""
        if not journals:
            return
        kept = {ref: balanced(legs) for ref, _, legs in journals}
        ids: dict[str, int] = dict(
            (
                await self.session.execute(
                    sa.insert(_JOURNAL)
                    .values(
                        [
                            {"kind": kind, "ref": ref, "business_date": on, "created_at": now}
                            for ref, on, _ in journals
                        ]
                    )
                    .returning(_JOURNAL.c.ref, _JOURNAL.c.journal_id)
                )
            ).all()
        )
        legs = [
            {"journal_id": ids[ref], "account": leg.account, "amount_fen": leg.amount_fen}
            for ref, _, _ in journals
            for leg in kept[ref]
        ]
        if legs:
            await self.session.execute(sa.insert(_LEG), legs)

    async def lock_account(self, psn_no: str, *, now: datetime) -> None:
        """The person's account row, created empty if need be and locked until the transaction ends."""
        await self.session.execute(
            insert_for(self.session, PersonalAccount)
            .values(psn_no=psn_no, balc_fen=0, updated_at=now)
            .on_conflict_do_nothing(index_elements=[PersonalAccount.psn_no])
        )
        await self.session.execute(
            sa.select(PersonalAccount.psn_no).where(PersonalAccount.psn_no == psn_no).with_for_update()
        )

    async def journal_posted(self, kind: str, ref: str) -> bool:
        """Whether a journal of that kind and reference exists."""
        query = sa.select(Journal.journal_id).where(Journal.kind == kind, Journal.ref == ref).limit(1)
        return await self.session.scalar(query) is not None

    async def credit_account(self, psn_no: str, amount_fen: int, *, now: datetime) -> None:
        await self.session.execute(
            sa.update(PersonalAccount)
            .where(PersonalAccount.psn_no == psn_no)
            .values(balc_fen=PersonalAccount.balc_fen + amount_fen, updated_at=now)
        )

    async def account_balance(self, psn_no: str) -> int | None:
        """The personal account's balance in fen; None if the person never had a credit."""
        balance = await self.session.scalar(
            sa.select(PersonalAccount.balc_fen).where(PersonalAccount.psn_no == psn_no)
        )
        return None if balance is None else int(balance)

    async def bind_family(self, holder_psn_no: str, members: Sequence[str], *, event_time: datetime) -> None:
        """Make the holder's family these members; a member bound by a newer event stays as it is."""
        await self.session.execute(
            sa.delete(FamilyBinding).where(
                FamilyBinding.holder_psn_no == holder_psn_no,
                FamilyBinding.member_psn_no.not_in(members),
                FamilyBinding.source_time <= event_time,
            )
        )
        if not members:
            return
        statement = insert_for(self.session, FamilyBinding).values(
            [{"member_psn_no": m, "holder_psn_no": holder_psn_no, "source_time": event_time} for m in members]
        )
        # A member re-bound to another holder moves: the newer binding wins, whichever holder it names.
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[FamilyBinding.member_psn_no],
                set_={"holder_psn_no": statement.excluded.holder_psn_no, "source_time": event_time},
                where=FamilyBinding.source_time <= statement.excluded.source_time,
            )
        )
