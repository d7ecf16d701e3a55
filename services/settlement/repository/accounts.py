"""Personal accounts (个人账户): balances, read or locked, and the moves a settlement or reversal makes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from common.db import DeferredWrites, table_of
from common.repository import RepositoryBase
from settlement.models import DayClose, PersonalAccount
from settlement.repository.day_closes import DayCloseRepository

# Built once with bound parameters: compiled once, then only executed (the settle path moves one or two).
_ACCOUNT, _DAY_CLOSE = table_of(PersonalAccount), table_of(DayClose)


def _move_balance(prefix: str, _: list[Any]) -> sa.Update:
    return (
        sa.update(_ACCOUNT)
        .where(_ACCOUNT.c.psn_no == sa.bindparam(f"{prefix}k_psn_no"))
        .values(
            balc_fen=_ACCOUNT.c.balc_fen + sa.bindparam(f"{prefix}delta", type_=sa.BigInteger()),
            updated_at=sa.bindparam(f"{prefix}now", type_=_ACCOUNT.c.updated_at.type),
        )
    )


_MOVE_BALANCE = _move_balance("", [])


def _balances_and_close(lock: bool) -> sa.Select[Any]:
    accounts = (
        sa.select(_ACCOUNT.c.psn_no, _ACCOUNT.c.balc_fen)
        .where(_ACCOUNT.c.psn_no == sa.func.any(sa.bindparam("psn_nos", type_=postgresql.ARRAY(sa.String()))))
        .order_by(_ACCOUNT.c.psn_no)
    )
    if lock:
        accounts = accounts.with_for_update()
    wallets = accounts.lateral("wallets")
    closed = sa.select(sa.func.max(_DAY_CLOSE.c.business_date).label("last_closed")).subquery("closed")
    return sa.select(closed.c.last_closed, wallets.c.psn_no, wallets.c.balc_fen).select_from(
        closed.outerjoin(wallets, sa.true())
    )


# PostgreSQL's, compiled once: the last closed day with the wallets (locked or not) in one round trip.
_BALANCES_AND_CLOSE_LOCKED = _balances_and_close(lock=True)
_BALANCES_AND_CLOSE = _balances_and_close(lock=False)


class AccountRepository(RepositoryBase[PersonalAccount]):
    model = PersonalAccount

    async def balance(self, psn_no: str) -> int:
        """The balance in fen, 0 when nothing was ever credited."""
        balance = await self.session.scalar(
            sa.select(PersonalAccount.balc_fen).where(PersonalAccount.psn_no == psn_no)
        )
        return int(balance or 0)

    async def balances(self, psn_nos: Sequence[str], *, lock: bool) -> dict[str, int]:
        """Account balances, locked in psn_no order (a fixed order, so two settlements never deadlock)."""
        wanted = sorted(set(psn_nos))
        if not wanted:
            return {}
        query = sa.select(PersonalAccount.psn_no, PersonalAccount.balc_fen).where(
            PersonalAccount.psn_no.in_(wanted)
        )
        if lock:
            query = query.order_by(PersonalAccount.psn_no).with_for_update()
        return {psn_no: balance for psn_no, balance in (await self.session.execute(query)).all()}

    async def balances_and_last_close(
        self, psn_nos: Sequence[str], *, lock: bool
    ) -> tuple[dict[str, int], date | None]:
        """`balances` and the latest closed business date, read after the day close's shared lock.

        On PostgreSQL one statement: the last close (its snapshot taken when the statement starts, after
        the lock was granted) with the accounts locked in psn_no order, one row even without an account.
        """
        if self.session.get_bind().dialect.name != "postgresql":
            last_closed = await DayCloseRepository(self.session).last_closed()
            return await self.balances(psn_nos, lock=lock), last_closed
        statement = _BALANCES_AND_CLOSE_LOCKED if lock else _BALANCES_AND_CLOSE
        rows = (await self.session.execute(statement, {"psn_nos": sorted(set(psn_nos))})).all()
        return {row.psn_no: row.balc_fen for row in rows if row.psn_no is not None}, rows[0].last_closed

    async def move(self, psn_no: str, delta_fen: int, *, now: datetime, defer: bool = False) -> None:
        """Add `delta_fen` (negative: a draw) to the balance; nothing for a zero move.

        `defer`: with the transaction's other deferred writes (common.db.DeferredWrites).
        """
        if delta_fen == 0:
            return
        params = {"k_psn_no": psn_no, "delta": delta_fen, "now": now}
        if defer:
            await DeferredWrites.of(self.session).add("account_move", _move_balance, params)
        else:
            await self.session.execute(_MOVE_BALANCE, params)
