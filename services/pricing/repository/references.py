"""Reference prices (参考价) and what they are read off: each pharmacy's latest price, each group's window and
price table (per drug and region), kept current by every sale and moved to the window's edge on recompute.

Per (drug, region) the service keeps each pharmacy's latest price (`latest_price`), where the group's table
starts (`price_window.counted_from`: the latest prices observed since are in it) and how many pharmacies
ask each price (`price_count`). A sale moves one pharmacy from its old price to its new one (two counts
change) after moving the group's window to the cutoff (the prices observed in between leave), and the
reference is read off the group's price table — never recomputed from the sales.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from common.db import UtcDateTime, table_of
from common.repository import RepositoryBase
from pricing.domain.money import MICRO_PER_FEN
from pricing.domain.reference import Basis, Reference, reference_from_counts
from pricing.models import LatestPrice, Observation, Pharmacy, PriceCount, PriceWindow, ReferencePrice
from pricing.repository.sets import among, delete_rows, insert_rows, upsert_rows

_CHUNK = 900
_GROUP_KEY = ("med_list_codg", "admdvs")
_COUNT_KEY = ("med_list_codg", "admdvs", "price_micro")
_LATEST_KEY = ("med_list_codg", "admdvs", "fixmedins_code")
_STAGING = "rebuild_price_count"  # the rebuild's temporary table of counts
_REBUILD_SETTINGS = (("work_mem", "256MB"), ("parallel_setup_cost", "0"), ("parallel_tuple_cost", "0"))


def _references_of(pc: sa.Table, now: datetime) -> sa.Select[Any]:
    """The reference of every group with a price table, as `reference_from_counts` computes it, in SQL.

    Mode when some price is asked by two pharmacies or more (the lowest of the tied prices); else (every
    price asked once) the median: the middle price, or with an even number the mean of the two middle ones
    rounded half-up to the fen, in exact integers: fen = floor((a + b + 10,000) / 20,000) for a + b micro.
    """
    group = (pc.c.med_list_codg, pc.c.admdvs)
    ranked = sa.select(
        *group,
        pc.c.price_micro,
        pc.c.pharmacies,
        sa.func.sum(pc.c.pharmacies).over(partition_by=group).label("total"),
        sa.func.max(pc.c.pharmacies).over(partition_by=group).label("most"),
        sa.func.count().over(partition_by=group).label("prices"),
        sa.func.row_number().over(partition_by=group, order_by=pc.c.price_micro).label("rn"),
    ).subquery("ranked")
    r = ranked.c
    is_mode = sa.func.max(r.most) > 1
    mode = sa.func.min(sa.case((r.pharmacies == r.most, r.price_micro)))
    odd_middle = sa.func.min(sa.case((r.rn == (r.prices + 1) // 2, r.price_micro)))
    # sum() of bigint is numeric on PostgreSQL: cast back, so the division below is integral.
    two_middle = sa.cast(
        sa.func.sum(sa.case((r.rn.in_([r.prices // 2, r.prices // 2 + 1]), r.price_micro))), sa.BigInteger
    )
    even_median = (two_middle + MICRO_PER_FEN) // (2 * MICRO_PER_FEN) * MICRO_PER_FEN
    price = sa.case((is_mode, mode), (sa.func.max(r.prices) % 2 == 1, odd_middle), else_=even_median)
    return sa.select(
        r.med_list_codg,
        r.admdvs,
        sa.cast(price, sa.BigInteger),
        sa.case((is_mode, Basis.MODE.value), else_=Basis.MEDIAN.value),
        sa.func.max(r.total),
        sa.literal(now, UtcDateTime()),
    ).group_by(r.med_list_codg, r.admdvs)


@dataclass(frozen=True, slots=True)
class Recount:
    """What a recompute did: latest prices that aged out, references held after and before."""

    aged_out: int
    references: int
    previous_references: int


@dataclass(frozen=True, slots=True)
class Offer:
    """A pharmacy's latest price of a drug, within the window."""

    fixmedins_code: str
    fixmedins_name: str
    price_micro: int
    observed_at: datetime


def _lock_key(med_list_codg: str, admdvs: str) -> int:
    digest = hashlib.blake2b(f"pricing|{med_list_codg}|{admdvs}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class ReferenceRepository(RepositoryBase[ReferencePrice]):
    model = ReferencePrice

    def _is_postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    async def lock_groups(self, admdvs: str, drugs: Iterable[str]) -> None:
        """On PostgreSQL, serialise the writers of each (drug, region) for the transaction (SQLite has one writer).

        Taken in key order, so two uploads that share drugs queue instead of deadlocking.
        """
        if not self._is_postgres():
            return
        keys = sorted({_lock_key(drug, admdvs) for drug in drugs})
        if keys:
            # One round trip; the ordered subquery feeds the locks in key order.
            await self.session.execute(
                sa.text(
                    "SELECT count(pg_advisory_xact_lock(k)) FROM "
                    "(SELECT k FROM unnest(CAST(:keys AS bigint[])) AS u(k) ORDER BY k) AS ordered"
                ),
                {"keys": keys},
            )

    async def update_references(
        self,
        *,
        fixmedins_code: str,
        admdvs: str,
        latest: Mapping[str, tuple[int, datetime]],
        cutoff: datetime,
        now: datetime,
    ) -> dict[str, Reference | None]:
        """Apply one pharmacy's newest sale of each drug and return each drug's reference in the region.

        `latest` maps a drug to (price in millionths, sel_time) of the pharmacy's newest sale among those being
        recorded; a sale older than the pharmacy's stored latest changes nothing. Each group's window moves to
        `cutoff` first (the prices observed before it leave the table). The caller holds the groups' locks
        (`lock_groups`). Every table is written set-based: one statement per table and kind of change.
        """
        drugs = sorted(latest)
        if not drugs:
            return {}
        lp, pc, pw = table_of(LatestPrice), table_of(PriceCount), table_of(PriceWindow)
        mine: dict[str, tuple[int, datetime]] = {}
        windows: dict[str, datetime] = {}
        counts: dict[str, dict[int, int]] = defaultdict(dict)
        for start in range(0, len(drugs), _CHUNK):
            chunk = drugs[start : start + _CHUNK]
            rows = await self.session.execute(
                sa.select(lp.c.med_list_codg, lp.c.price_micro, lp.c.observed_at).where(
                    lp.c.admdvs == admdvs,
                    lp.c.fixmedins_code == fixmedins_code,
                    among(self.session, lp.c.med_list_codg, chunk),
                )
            )
            mine.update({drug: (price, observed_at) for drug, price, observed_at in rows.all()})
            found = await self.session.execute(
                sa.select(pw.c.med_list_codg, pw.c.counted_from).where(
                    pw.c.admdvs == admdvs, among(self.session, pw.c.med_list_codg, chunk)
                )
            )
            windows.update({drug: counted_from for drug, counted_from in found.all()})
            tables = await self.session.execute(
                sa.select(pc.c.med_list_codg, pc.c.price_micro, pc.c.pharmacies).where(
                    pc.c.admdvs == admdvs, among(self.session, pc.c.med_list_codg, chunk)
                )
            )
            for drug, price, pharmacies in tables.all():
                counts[drug][price] = pharmacies
        before = {drug: dict(table) for drug, table in counts.items()}
        moving = sorted(drug for drug, counted_from in windows.items() if counted_from != cutoff)
        for start in range(0, len(moving), _CHUNK):
            chunk = moving[start : start + _CHUNK]
            in_groups = sa.and_(lp.c.admdvs == admdvs, among(self.session, lp.c.med_list_codg, chunk))
            for drug, _admdvs, price, leaving, returning in await self._crossing(in_groups, cutoff):
                counts[drug][price] = counts[drug].get(price, 0) - leaving + returning
            await self.session.execute(
                sa.update(pw)
                .where(pw.c.admdvs == admdvs, among(self.session, pw.c.med_list_codg, chunk))
                .values(counted_from=cutoff)
            )
        opened = [
            {"med_list_codg": drug, "admdvs": admdvs, "counted_from": cutoff}
            for drug in drugs
            if drug not in windows
        ]
        await insert_rows(self.session, pw, opened)
        # Every group's window now starts at the cutoff: a latest price is in its table when observed since.
        inserts: list[dict[str, object]] = []
        updates: list[dict[str, object]] = []
        for drug in drugs:
            price, observed_at = latest[drug]
            row = {
                "med_list_codg": drug,
                "admdvs": admdvs,
                "fixmedins_code": fixmedins_code,
                "price_micro": price,
                "observed_at": observed_at,
            }
            stored = mine.get(drug)
            if stored is None:
                inserts.append(row)
            elif observed_at >= stored[1]:
                old_price, old_observed_at = stored
                if old_observed_at >= cutoff:
                    counts[drug][old_price] = counts[drug].get(old_price, 0) - 1
                updates.append(row)
            else:
                continue  # an older sale arriving late: the pharmacy's latest price stands
            if observed_at >= cutoff:
                counts[drug][price] = counts[drug].get(price, 0) + 1
        await upsert_rows(self.session, lp, _LATEST_KEY, inserts + updates)
        await self._write_counts(admdvs, before, counts)
        references = {drug: reference_from_counts(counts.get(drug, {})) for drug in drugs}
        await self._write_references(admdvs, references, now)
        return references

    async def _crossing(
        self, where: sa.ColumnElement[bool], cutoff: datetime
    ) -> list[tuple[str, str, int, int, int]]:
        """The latest prices that cross the window edge when each group's window moves to `cutoff`.

        Per (drug, region, price): how many leave (observed from the group's old start up to the cutoff) and
        how many come back (observed from the cutoff up to the old start: the window grew).
        """
        lp, pw = table_of(LatestPrice), table_of(PriceWindow)
        leaving = sa.and_(lp.c.observed_at >= pw.c.counted_from, lp.c.observed_at < cutoff)
        returning = sa.and_(lp.c.observed_at >= cutoff, lp.c.observed_at < pw.c.counted_from)
        query = (
            sa.select(
                lp.c.med_list_codg,
                lp.c.admdvs,
                lp.c.price_micro,
                sa.func.sum(sa.case((leaving, 1), else_=0)),
                sa.func.sum(sa.case((returning, 1), else_=0)),
            )
            .join(pw, sa.and_(pw.c.med_list_codg == lp.c.med_list_codg, pw.c.admdvs == lp.c.admdvs))
            .where(where, sa.or_(leaving, returning))
            .group_by(lp.c.med_list_codg, lp.c.admdvs, lp.c.price_micro)
        )
        return [
            (drug, admdvs, int(price), int(out), int(back))
            for drug, admdvs, price, out, back in (await self.session.execute(query)).all()
        ]

    async def _write_counts(
        self,
        admdvs: str,
        before: Mapping[str, Mapping[int, int]],
        after: Mapping[str, Mapping[int, int]],
    ) -> None:
        pc = table_of(PriceCount)
        inserts, updates, deletes = [], [], []
        for drug, table in after.items():
            old = before.get(drug, {})
            for price, pharmacies in table.items():
                key = {"med_list_codg": drug, "admdvs": admdvs, "price_micro": price}
                if price in old:
                    if pharmacies <= 0:
                        deletes.append(key)
                    elif pharmacies != old[price]:
                        updates.append({**key, "pharmacies": pharmacies})
                elif pharmacies > 0:
                    inserts.append({**key, "pharmacies": pharmacies})
        await upsert_rows(self.session, pc, _COUNT_KEY, inserts + updates)
        await delete_rows(self.session, pc, _COUNT_KEY, deletes)

    async def _write_references(
        self, admdvs: str, references: Mapping[str, Reference | None], now: datetime
    ) -> None:
        rp = table_of(ReferencePrice)
        drugs = sorted(references)
        existing: dict[str, tuple[int, str, int]] = {}
        for start in range(0, len(drugs), _CHUNK):
            rows = await self.session.execute(
                sa.select(rp.c.med_list_codg, rp.c.price_micro, rp.c.basis, rp.c.pharmacies).where(
                    rp.c.admdvs == admdvs,
                    among(self.session, rp.c.med_list_codg, drugs[start : start + _CHUNK]),
                )
            )
            existing.update({drug: (price, basis, n) for drug, price, basis, n in rows.all()})
        inserts, updates, deletes = [], [], []
        for drug in drugs:
            reference = references[drug]
            if reference is None:
                if drug in existing:
                    deletes.append({"med_list_codg": drug, "admdvs": admdvs})
                continue
            row = {
                "med_list_codg": drug,
                "admdvs": admdvs,
                "price_micro": reference.price_micro,
                "basis": reference.basis.value,
                "pharmacies": reference.pharmacies,
                "computed_at": now,
            }
            if drug not in existing:
                inserts.append(row)
            elif existing[drug] != (reference.price_micro, reference.basis.value, reference.pharmacies):
                updates.append(row)
        await upsert_rows(self.session, rp, _GROUP_KEY, inserts + updates)
        await delete_rows(self.session, rp, _GROUP_KEY, deletes)

    async def of_group(self, med_list_codg: str, admdvs: str) -> ReferencePrice | None:
        """The reference price of a drug in a region, if it has one."""
        return await self.get((med_list_codg, admdvs))

    async def offers(self, med_list_codg: str, admdvs: str, *, cutoff: datetime, limit: int) -> list[Offer]:
        """The latest price of the drug at each pharmacy of the region observed since `cutoff`, cheapest first."""
        rows = await self.session.execute(
            sa.select(
                LatestPrice.fixmedins_code,
                Pharmacy.fixmedins_name,
                LatestPrice.price_micro,
                LatestPrice.observed_at,
            )
            .join(Pharmacy, Pharmacy.fixmedins_code == LatestPrice.fixmedins_code)
            .where(
                LatestPrice.med_list_codg == med_list_codg,
                LatestPrice.admdvs == admdvs,
                LatestPrice.observed_at >= cutoff,
            )
            .order_by(LatestPrice.price_micro, LatestPrice.fixmedins_code)
            .limit(limit)
        )
        return [Offer(code, name, price, observed_at) for code, name, price, observed_at in rows]

    async def list_references(
        self, *, med_list_codg: str | None, admdvs: str | None, limit: int
    ) -> list[ReferencePrice]:
        """Reference prices by drug and region, in that order."""
        query = sa.select(ReferencePrice)
        if med_list_codg:
            query = query.where(ReferencePrice.med_list_codg == med_list_codg)
        if admdvs:
            query = query.where(ReferencePrice.admdvs == admdvs)
        query = query.order_by(ReferencePrice.med_list_codg, ReferencePrice.admdvs).limit(limit)
        return list((await self.session.scalars(query)).all())

    async def recompute(self, *, cutoff: datetime, now: datetime, rebuild: bool = False) -> Recount:
        """Bring every reference price up to the window's edge.

        By default this moves each group's window to the cutoff: the latest prices observed in between (one
        range of the observed_at index) leave their tables, and only the groups they touched are recounted and
        get a new reference. With `rebuild` every table and reference is rebuilt from all the latest prices
        instead (a repair; it reads every latest price).

        On PostgreSQL the four tables are locked for the run, so sales recorded meanwhile wait for it rather
        than being overwritten by it.
        """
        lp, pw, rp = table_of(LatestPrice), table_of(PriceWindow), table_of(ReferencePrice)
        if self._is_postgres():
            await self.session.execute(
                sa.text(
                    "LOCK TABLE latest_price, price_window, price_count, reference_price IN SHARE ROW EXCLUSIVE MODE"
                )
            )
        before = await self.session.scalar(sa.select(sa.func.count()).select_from(rp)) or 0
        earliest, latest = (
            await self.session.execute(
                sa.select(sa.func.min(pw.c.counted_from), sa.func.max(pw.c.counted_from))
            )
        ).one()
        crossing: list[tuple[str, str, int, int, int]] = []
        if earliest is not None:
            # Only prices between the oldest window start and the cutoff can cross: one index range.
            low, high = min(earliest, cutoff), max(latest, cutoff)
            crossing = await self._crossing(sa.and_(lp.c.observed_at >= low, lp.c.observed_at < high), cutoff)
        aged_out = sum(out for *_, out, _back in crossing)
        if rebuild:
            await self._rebuild(cutoff, now)
        else:
            await self.session.execute(
                sa.update(pw).where(pw.c.counted_from != cutoff).values(counted_from=cutoff)
            )
            await self._apply_crossing(crossing, now)
        held = await self.session.scalar(sa.select(sa.func.count()).select_from(rp)) or 0
        return Recount(aged_out=aged_out, references=held, previous_references=before)

    async def _apply_crossing(
        self, crossing: Iterable[tuple[str, str, int, int, int]], now: datetime
    ) -> None:
        """Recount the groups whose prices crossed the window edge, and rewrite their references."""
        pc = table_of(PriceCount)
        deltas: dict[str, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
        for drug, admdvs, price, out, back in crossing:
            deltas[admdvs][drug][price] = back - out
        for admdvs, by_drug in sorted(deltas.items()):
            drugs = sorted(by_drug)
            counts: dict[str, dict[int, int]] = {drug: {} for drug in drugs}
            for start in range(0, len(drugs), _CHUNK):
                tables = await self.session.execute(
                    sa.select(pc.c.med_list_codg, pc.c.price_micro, pc.c.pharmacies).where(
                        pc.c.admdvs == admdvs,
                        among(self.session, pc.c.med_list_codg, drugs[start : start + _CHUNK]),
                    )
                )
                for drug, price, pharmacies in tables.all():
                    counts[drug][price] = pharmacies
            before = {drug: dict(table) for drug, table in counts.items()}
            for drug, changes in by_drug.items():
                for price, delta in changes.items():
                    counts[drug][price] = counts[drug].get(price, 0) + delta
            await self._write_counts(admdvs, before, counts)
            await self._write_references(
                admdvs, {drug: reference_from_counts(counts[drug]) for drug in drugs}, now
            )

    async def _rebuild(self, cutoff: datetime, now: datetime) -> None:
        """Every window, price table and reference rebuilt from the latest prices, set-based in the database.

        One pass over the latest prices counts the pharmacies of every (drug, region, price) into a temporary
        staging table, in the window and out of it (on PostgreSQL a CREATE TABLE AS, which may run in
        parallel and never touches the WAL); the windows, the price tables and the references are each then
        one statement over the staging rows (a few per group, not the millions of prices).
        """
        pc, pw, rp = table_of(PriceCount), table_of(PriceWindow), table_of(ReferencePrice)
        postgres = self._is_postgres()
        if postgres:
            # For this transaction only: the counts' hash aggregate (a few rows a group) stays in memory, and
            # the pass over the latest prices runs as a parallel partial aggregate. The planner, guessing ten
            # times more groups than there are, would otherwise judge the parallel plan not worth starting.
            for setting, value in _REBUILD_SETTINGS:
                await self.session.execute(sa.text(f"SET LOCAL {setting} = '{value}'"))
        else:
            await self.session.execute(sa.text(f"DROP TABLE IF EXISTS temp.{_STAGING}"))
        on_commit = " ON COMMIT DROP" if postgres else ""
        await self.session.execute(
            sa.text(
                f"CREATE TEMPORARY TABLE {_STAGING}{on_commit} AS "  # noqa: S608 - constant names
                "SELECT med_list_codg, admdvs, price_micro, "
                "SUM(CASE WHEN observed_at >= :cutoff THEN 1 ELSE 0 END) AS pharmacies "
                "FROM latest_price GROUP BY med_list_codg, admdvs, price_micro"
            ).bindparams(sa.bindparam("cutoff", type_=UtcDateTime())),
            {"cutoff": cutoff},
        )
        staging = sa.table(
            _STAGING,
            sa.column("med_list_codg", sa.String()),
            sa.column("admdvs", sa.String()),
            sa.column("price_micro", sa.BigInteger()),
            sa.column("pharmacies", sa.Integer()),
        )
        columns = ["med_list_codg", "admdvs", "price_micro", "pharmacies"]
        await self.session.execute(sa.delete(pw))
        await self.session.execute(
            sa.insert(pw).from_select(
                ["med_list_codg", "admdvs", "counted_from"],
                sa.select(
                    staging.c.med_list_codg, staging.c.admdvs, sa.literal(cutoff, UtcDateTime())
                ).group_by(staging.c.med_list_codg, staging.c.admdvs),
            )
        )
        await self.session.execute(sa.delete(pc))
        await self.session.execute(
            sa.insert(pc).from_select(
                columns,
                sa.select(*(staging.c[name] for name in columns)).where(staging.c.pharmacies > 0),
            )
        )
        await self.session.execute(sa.delete(rp))
        await self.session.execute(
            sa.insert(rp).from_select(
                ["med_list_codg", "admdvs", "price_micro", "basis", "pharmacies", "computed_at"],
                _references_of(pc, now),
            )
        )
        await self.session.execute(sa.text(f"DROP TABLE {_STAGING}"))

    async def restore_latest(
        self,
        *,
        fixmedins_code: str,
        admdvs: str,
        med_list_codg: str,
        cutoff: datetime,
        now: datetime,
    ) -> Reference | None:
        """After a pharmacy's sale was withdrawn or refunded: its latest price of the drug is again its newest remaining
        observation (or none), and the group's price table and reference are rebuilt from the latest prices.

        The caller holds the group's lock (`lock_groups`).
        """
        lp, pc, pw = table_of(LatestPrice), table_of(PriceCount), table_of(PriceWindow)
        newest = (
            await self.session.execute(
                sa.select(Observation.price_micro, Observation.sel_time)
                .where(
                    Observation.fixmedins_code == fixmedins_code,
                    Observation.admdvs == admdvs,
                    Observation.med_list_codg == med_list_codg,
                    Observation.refund_time.is_(None),
                )
                .order_by(Observation.sel_time.desc(), Observation.observation_id.desc())
                .limit(1)
            )
        ).first()
        mine = sa.and_(
            lp.c.med_list_codg == med_list_codg, lp.c.admdvs == admdvs, lp.c.fixmedins_code == fixmedins_code
        )
        await self.session.execute(sa.delete(lp).where(mine))
        if newest is not None:
            price, observed_at = newest
            await self.session.execute(
                sa.insert(lp).values(
                    med_list_codg=med_list_codg,
                    admdvs=admdvs,
                    fixmedins_code=fixmedins_code,
                    price_micro=price,
                    observed_at=observed_at,
                )
            )
        group = sa.and_(lp.c.med_list_codg == med_list_codg, lp.c.admdvs == admdvs)
        # The group's window starts at the cutoff again, and its table is recounted from there.
        window = sa.and_(pw.c.med_list_codg == med_list_codg, pw.c.admdvs == admdvs)
        await self.session.execute(sa.delete(pw).where(window))
        await self.session.execute(
            sa.insert(pw).values(med_list_codg=med_list_codg, admdvs=admdvs, counted_from=cutoff)
        )
        counts = {
            int(price): int(n)
            for price, n in (
                await self.session.execute(
                    sa.select(lp.c.price_micro, sa.func.count())
                    .where(group, lp.c.observed_at >= cutoff)
                    .group_by(lp.c.price_micro)
                )
            ).all()
        }
        await self.session.execute(
            sa.delete(pc).where(pc.c.med_list_codg == med_list_codg, pc.c.admdvs == admdvs)
        )
        if counts:
            await self.session.execute(
                sa.insert(pc),
                [
                    {"med_list_codg": med_list_codg, "admdvs": admdvs, "price_micro": price, "pharmacies": n}
                    for price, n in sorted(counts.items())
                ],
            )
        reference = reference_from_counts(counts)
        await self._write_references(admdvs, {med_list_codg: reference}, now)
        return reference
