"""The projected claim history: settlements with their fee lines and traceability codes, and what the rules
read around a claim (built once with bound parameters: the real-time review reads them on its budget)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from common.db import UtcDateTime, table_of
from common.repository import RepositoryBase
from fraud.domain.facts import INPATIENT
from fraud.models import ClaimLine, ClaimRecord, PersonFact, TraceCodeUse
from fraud.repository import POSTGRESQL, PerDialect, bound_values, dialect_of

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
_CODE_USE_COLUMNS = (
    _CODES.c.trac_codg,
    _CODES.c.source,
    _CODES.c.use_id,
    _CODES.c.fixmedins_code,
    _CODES.c.used_at,
)
_USED_CODES = sa.select(*_CODE_USE_COLUMNS).where(
    _CODES.c.trac_codg.in_(sa.bindparam("codes", expanding=True)), _CODES.c.reversed.is_(False)
)
# On PostgreSQL `= ANY(array)`: one SQL text whatever the number of codes (no IN list rendered per call).
_USED_CODES_PG = sa.select(*_CODE_USE_COLUMNS).where(
    _CODES.c.trac_codg == sa.any_(sa.bindparam("codes", type_=postgresql.ARRAY(sa.String()))),
    _CODES.c.reversed.is_(False),
)
SETTLEMENT_USE = "settlement"
_PEERS = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(_CLAIMS.c.medfee_fen), 0)).where(
    _CLAIMS.c.dise_category == sa.bindparam("category"),
    _CLAIMS.c.hosp_lv == sa.bindparam("hosp_lv"),
    _CLAIMS.c.med_type.in_(sorted(INPATIENT)),
    _CLAIMS.c.reversed.is_(False),
    _CLAIMS.c.setl_id != sa.bindparam("setl_id"),
)


CLAIM_COLUMNS = (
    "setl_id",
    "psn_no",
    "mdtrt_id",
    "medins_setl_id",
    "fixmedins_code",
    "hosp_lv",
    "insutype",
    "med_type",
    "dise_codg",
    "dise_category",
    "begin_date",
    "end_date",
    "setl_date",
    "setl_time",
    "medfee_fen",
    "fund_pay_fen",
    "psn_part_fen",
    "reversed",
    "reversed_at",
    "assistance",
)
_INSERT_CLAIM = PerDialect(
    lambda insert: (
        insert(_CLAIMS)
        .values(bound_values(_CLAIMS, CLAIM_COLUMNS))
        .on_conflict_do_nothing(index_elements=[_CLAIMS.c.setl_id])
    )
)
_INSERT_LINES, _INSERT_CODES = sa.insert(_LINES), sa.insert(_CODES)

# PostgreSQL: a settlement projected in one round trip. The claim is inserted unless it is there already (c);
# only then (each part selects FROM c) its lines, its traceability codes, and, when some of its lines are of
# catalogue items needing a code (as catalog_limit now says), what it adds to the scan rate (s) and the
# institution's month (n). Then whether it was new, and the person's facts the post rules read. The parts run
# on one snapshot: none reads what another writes, and nothing here reads the rows written here.
_PROJECT_PG = sa.text(
    f"""
WITH c AS (
    INSERT INTO {_CLAIMS.name} ({", ".join(CLAIM_COLUMNS)})
    VALUES ({", ".join(":" + name for name in CLAIM_COLUMNS)})
    ON CONFLICT (setl_id) DO NOTHING
    RETURNING setl_id
), l AS (
    INSERT INTO {_LINES.name} (setl_id, feedetl_sn, psn_no, med_list_codg, cnt, amount_fen, fee_date, reversed)
    SELECT c.setl_id, r.feedetl_sn, :psn_no, r.med_list_codg, r.cnt, r.amount_fen, r.fee_date, false
    FROM c CROSS JOIN unnest(
        CAST(:line_sns AS VARCHAR[]), CAST(:line_items AS VARCHAR[]), CAST(:line_cnts AS VARCHAR[]),
        CAST(:line_amounts AS BIGINT[]), CAST(:line_dates AS DATE[])
    ) WITH ORDINALITY AS r(feedetl_sn, med_list_codg, cnt, amount_fen, fee_date, n)
    ORDER BY r.n
), t AS (
    INSERT INTO {_CODES.name} (trac_codg, source, fixmedins_code, use_id, feedetl_sn, used_at, reversed)
    SELECT r.trac_codg, '{SETTLEMENT_USE}', :fixmedins_code, c.setl_id, r.feedetl_sn, :setl_time, false
    FROM c CROSS JOIN unnest(CAST(:codes AS VARCHAR[]), CAST(:code_sns AS VARCHAR[]))
        WITH ORDINALITY AS r(trac_codg, feedetl_sn, n)
    ORDER BY r.n
), s AS (
    INSERT INTO settlement_scan (setl_id, fixmedins_code, month, lines_needing, lines_scanned)
    SELECT :setl_id, :fixmedins_code, :month, count(*), count(*) FILTER (WHERE r.scanned)
    FROM c CROSS JOIN unnest(CAST(:line_items AS VARCHAR[]), CAST(:line_scanned AS BOOLEAN[]))
        AS r(med_list_codg, scanned)
    JOIN catalog_limit AS k ON k.med_list_codg = r.med_list_codg
    WHERE k.trac_codg_required IS true
    HAVING count(*) > 0
    RETURNING fixmedins_code, month, lines_needing, lines_scanned
), n AS (
    INSERT INTO scan_count AS counted (fixmedins_code, month, lines_needing, lines_scanned, updated_at)
    SELECT fixmedins_code, month, lines_needing, lines_scanned, :setl_time FROM s
    ON CONFLICT (fixmedins_code, month) DO UPDATE SET
        lines_needing = counted.lines_needing + excluded.lines_needing,
        lines_scanned = counted.lines_scanned + excluded.lines_scanned,
        updated_at = excluded.updated_at
)
SELECT EXISTS (SELECT FROM c) AS inserted, p.gend, p.brdy, p.death_date
FROM (SELECT 1) AS one LEFT JOIN {table_of(PersonFact).name} AS p ON p.psn_no = :psn_no
"""  # noqa: S608 - table and column names from the models, values all bound
).bindparams(
    *(sa.bindparam(name, type_=_CLAIMS.c[name].type) for name in CLAIM_COLUMNS),
    sa.bindparam("line_sns", type_=postgresql.ARRAY(sa.String())),
    sa.bindparam("line_items", type_=postgresql.ARRAY(sa.String())),
    sa.bindparam("line_cnts", type_=postgresql.ARRAY(sa.String())),
    sa.bindparam("line_amounts", type_=postgresql.ARRAY(sa.BigInteger())),
    sa.bindparam("line_dates", type_=postgresql.ARRAY(sa.Date())),
    sa.bindparam("line_scanned", type_=postgresql.ARRAY(sa.Boolean())),
    sa.bindparam("codes", type_=postgresql.ARRAY(sa.String())),
    sa.bindparam("code_sns", type_=postgresql.ARRAY(sa.String())),
    sa.bindparam("month", type_=sa.String()),
)
_MARK_CLAIM_REVERSED = (
    sa.update(_CLAIMS)
    .where(_CLAIMS.c.setl_id == sa.bindparam("reversed_setl_id"), _CLAIMS.c.reversed.is_(False))
    .values(reversed=True, reversed_at=sa.bindparam("at", type_=UtcDateTime()))
)


class ClaimRepository(RepositoryBase[ClaimRecord]):
    model = ClaimRecord

    # --- the projection ------------------------------------------------------------------------------------

    @property
    def combines_projection(self) -> bool:
        """Whether `project` is there (PostgreSQL); otherwise insert_new, add_lines, add_trace_codes."""
        return dialect_of(self.session) == POSTGRESQL

    async def project(
        self,
        values: dict[str, Any],
        *,
        lines: Sequence[tuple[str, str, str, int, date, bool]],
        codes: Sequence[tuple[str, str]],
        month: str,
    ) -> Any:
        """PostgreSQL: project a settlement (`values` of CLAIM_COLUMNS) with its lines (feedetl_sn,
        med_list_codg, cnt, amount_fen, fee_date, carried a code), its codes (trac_codg, feedetl_sn) and its
        place in the scan rate of `month`, in one statement; (inserted, gend, brdy, death_date), nothing
        written when the settlement was there already."""
        params = dict(values)
        params["line_sns"] = [line[0] for line in lines]
        params["line_items"] = [line[1] for line in lines]
        params["line_cnts"] = [line[2] for line in lines]
        params["line_amounts"] = [line[3] for line in lines]
        params["line_dates"] = [line[4] for line in lines]
        params["line_scanned"] = [line[5] for line in lines]
        params["codes"] = [code for code, _ in codes]
        params["code_sns"] = [sn for _, sn in codes]
        params["month"] = month
        return (await self.session.execute(_PROJECT_PG, params)).one()

    async def insert_new(self, values: dict[str, Any]) -> bool:
        """Project a settlement (`values` of CLAIM_COLUMNS); False if it was there already."""
        inserted = await self.session.execute(_INSERT_CLAIM.of(self.session), values)
        return bool(inserted.rowcount)  # type: ignore[attr-defined]

    async def add_lines(self, lines: list[dict[str, Any]]) -> None:
        await self.session.execute(_INSERT_LINES, lines)

    async def add_trace_codes(self, codes: list[dict[str, Any]]) -> None:
        await self.session.execute(_INSERT_CODES, codes)

    async def mark_reversed(self, setl_id: str, *, at: datetime) -> bool | None:
        """Mark a settlement, its lines and its codes reversed; False if already marked, None if unknown."""
        changed = await self.session.execute(_MARK_CLAIM_REVERSED, {"reversed_setl_id": setl_id, "at": at})
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
        query: Any = _USED_CODES_PG if dialect_of(self.session) == POSTGRESQL else _USED_CODES
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
