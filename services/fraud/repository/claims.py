"""The projected claim history: settlements with their fee lines and traceability codes, and what the rules
read around a claim (built once with bound parameters: the real-time review reads them on its budget)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from common.db import table_of
from common.repository import RepositoryBase
from fraud.domain.facts import INPATIENT
from fraud.models import ClaimLine, ClaimRecord, TraceCodeUse
from fraud.repository import insert_into

_CLAIMS, _LINES, _CODES = table_of(ClaimRecord), table_of(ClaimLine), table_of(TraceCodeUse)

_PAST_CLAIMS = sa.select(
    _CLAIMS.c.setl_id,
    _CLAIMS.c.med_type,
    _CLAIMS.c.fixmedins_code,
    _CLAIMS.c.dise_codg,
    _CLAIMS.c.begin_date,
    _CLAIMS.c.end_date,
    _CLAIMS.c.setl_date,
    _CLAIMS.c.psn_part_fen,
).where(
    _CLAIMS.c.psn_no == sa.bindparam("psn_no"),
    _CLAIMS.c.begin_date >= sa.bindparam("since"),
    _CLAIMS.c.reversed.is_(False),
)
_PAST_LINES = sa.select(
    _LINES.c.setl_id, _LINES.c.feedetl_sn, _LINES.c.med_list_codg, _LINES.c.fee_date, _LINES.c.cnt
).where(
    _LINES.c.psn_no == sa.bindparam("psn_no"),
    _LINES.c.fee_date >= sa.bindparam("since"),
    _LINES.c.reversed.is_(False),
)
_USED_CODES = sa.select(
    _CODES.c.trac_codg, _CODES.c.source, _CODES.c.use_id, _CODES.c.fixmedins_code, _CODES.c.used_at
).where(_CODES.c.trac_codg.in_(sa.bindparam("codes", expanding=True)), _CODES.c.reversed.is_(False))
SETTLEMENT_USE = "settlement"
_PEERS = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(_CLAIMS.c.medfee_fen), 0)).where(
    _CLAIMS.c.dise_category == sa.bindparam("category"),
    _CLAIMS.c.hosp_lv == sa.bindparam("hosp_lv"),
    _CLAIMS.c.med_type.in_(sorted(INPATIENT)),
    _CLAIMS.c.reversed.is_(False),
    _CLAIMS.c.setl_id != sa.bindparam("setl_id"),
)


class ClaimRepository(RepositoryBase[ClaimRecord]):
    model = ClaimRecord

    # --- the projection ------------------------------------------------------------------------------------

    async def insert_new(self, values: dict[str, Any]) -> bool:
        """Project a settlement; False if it was there already."""
        inserted = await self.session.execute(
            insert_into(self.session, _CLAIMS)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[_CLAIMS.c.setl_id])
        )
        return bool(inserted.rowcount)  # type: ignore[attr-defined]

    async def add_lines(self, lines: list[dict[str, Any]]) -> None:
        await self.session.execute(sa.insert(_LINES), lines)

    async def add_trace_codes(self, codes: list[dict[str, Any]]) -> None:
        await self.session.execute(sa.insert(_CODES), codes)

    async def mark_reversed(self, setl_id: str, *, at: datetime) -> bool | None:
        """Mark a settlement, its lines and its codes reversed; False if already marked, None if unknown."""
        changed = await self.session.execute(
            sa.update(_CLAIMS)
            .where(_CLAIMS.c.setl_id == setl_id, _CLAIMS.c.reversed.is_(False))
            .values(reversed=True, reversed_at=at)
        )
        if changed.rowcount == 0:  # type: ignore[attr-defined]
            known = await self.session.scalar(
                sa.select(_CLAIMS.c.setl_id).where(_CLAIMS.c.setl_id == setl_id)
            )
            return None if known is None else False
        await self.session.execute(sa.update(_LINES).where(_LINES.c.setl_id == setl_id).values(reversed=True))
        await self.session.execute(
            sa.update(_CODES)
            .where(_CODES.c.source == SETTLEMENT_USE, _CODES.c.use_id == setl_id)
            .values(reversed=True)
        )
        return True

    # --- one settlement, and lists of them -----------------------------------------------------------------

    async def lines_of(self, setl_id: str) -> Sequence[Any]:
        """(feedetl_sn, med_list_codg, cnt, amount_fen, fee_date) of a settlement's lines, by serial."""
        rows = await self.session.execute(
            sa.select(
                _LINES.c.feedetl_sn,
                _LINES.c.med_list_codg,
                _LINES.c.cnt,
                _LINES.c.amount_fen,
                _LINES.c.fee_date,
            )
            .where(_LINES.c.setl_id == setl_id)
            .order_by(_LINES.c.feedetl_sn)
        )
        return rows.all()

    async def trace_codes_of(self, setl_id: str) -> Sequence[Any]:
        """(trac_codg, feedetl_sn) of the codes a settlement used."""
        rows = await self.session.execute(
            sa.select(_CODES.c.trac_codg, _CODES.c.feedetl_sn).where(
                _CODES.c.source == SETTLEMENT_USE, _CODES.c.use_id == setl_id
            )
        )
        return rows.all()

    async def standing_of_person(self, psn_no: str) -> Sequence[ClaimRecord]:
        """A person's unreversed settlements, in the order their care began."""
        rows = await self.session.scalars(
            sa.select(ClaimRecord)
            .where(ClaimRecord.psn_no == psn_no, ClaimRecord.reversed.is_(False))
            .order_by(ClaimRecord.begin_date, ClaimRecord.setl_id)
        )
        return rows.all()

    async def standing_settled_between(self, first: date, last: date, *, limit: int) -> Sequence[ClaimRecord]:
        """Up to `limit` unreversed settlements of settlement dates [first, last], in the order they were settled."""
        rows = await self.session.scalars(
            sa.select(ClaimRecord)
            .where(
                ClaimRecord.setl_date >= first,
                ClaimRecord.setl_date <= last,
                ClaimRecord.reversed.is_(False),
            )
            .order_by(ClaimRecord.setl_time, ClaimRecord.setl_id)
            .limit(limit)
        )
        return rows.all()

    # --- the history around a claim (`settled_before`: only what had been settled by then) ------------------

    async def past_claims(
        self, psn_no: str, *, since: date, settled_before: datetime | None
    ) -> Sequence[Any]:
        query: Any = _PAST_CLAIMS
        if settled_before is not None:
            query = query.where(_CLAIMS.c.setl_time < settled_before)
        return (await self.session.execute(query, {"psn_no": psn_no, "since": since})).all()

    async def past_lines(self, psn_no: str, *, since: date, settled_before: datetime | None) -> Sequence[Any]:
        query: Any = _PAST_LINES
        if settled_before is not None:
            query = query.join(_CLAIMS, _CLAIMS.c.setl_id == _LINES.c.setl_id).where(
                _CLAIMS.c.setl_time < settled_before
            )
        return (await self.session.execute(query, {"psn_no": psn_no, "since": since})).all()

    async def code_uses(self, codes: list[str], *, settled_before: datetime | None) -> Sequence[Any]:
        """(trac_codg, source, use_id, fixmedins_code, used_at) of the standing uses of these codes, settled
        or sold; `settled_before`: only the uses made before then."""
        query: Any = _USED_CODES
        if settled_before is not None:
            query = query.where(_CODES.c.used_at < settled_before)
        return (await self.session.execute(query, {"codes": codes})).all()

    async def peers(
        self, *, category: str, hosp_lv: int, setl_id: str, settled_before: datetime | None
    ) -> tuple[int, int]:
        """(count, total medfee in fen) of the other standing inpatient stays of a category and level."""
        query: Any = _PEERS
        if settled_before is not None:
            query = query.where(_CLAIMS.c.setl_time < settled_before)
        count, total = (
            await self.session.execute(query, {"category": category, "hosp_lv": hosp_lv, "setl_id": setl_id})
        ).one()
        return int(count), int(total)
