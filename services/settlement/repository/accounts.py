"""Personal accounts (个人账户): balances, read or locked, and the moves a settlement or reversal makes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from common.db import DeferredWrites, table_of
from common.repository import RepositoryBase
from settlement.models import PersonalAccount

# Built once with bound parameters: compiled once, then only executed (the settle path moves one or two).
_ACCOUNT = table_of(PersonalAccount)


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
