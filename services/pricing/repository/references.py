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

import sqlalchemy as sa

from common.db import UtcDateTime, table_of
from common.repository import RepositoryBase
from pricing.domain.reference import Reference, reference_from_counts
from pricing.models import LatestPrice, Observation, Pharmacy, PriceCount, PriceWindow, ReferencePrice

_CHUNK = 900
_WRITE_BATCH = 2000


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
        `cutoff` first (the prices observed before it leave the table).
        """
        drugs = sorted(latest)
        if not drugs:
            return {}
        await self.lock_groups(admdvs, drugs)
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
                    lp.c.med_list_codg.in_(chunk),
                )
            )
            mine.update({drug: (price, observed_at) for drug, price, observed_at in rows})
            found = await self.session.execute(
                sa.select(pw.c.med_list_codg, pw.c.counted_from).where(
                    pw.c.admdvs == admdvs, pw.c.med_list_codg.in_(chunk)
                )
            )
            windows.update({drug: counted_from for drug, counted_from in found})
            tables = await self.session.execute(
                sa.select(pc.c.med_list_codg, pc.c.price_micro, pc.c.pharmacies).where(
                    pc.c.admdvs == admdvs, pc.c.med_list_codg.in_(chunk)
                )
            )
            for drug, price, pharmacies in tables:
                counts[drug][price] = pharmacies
        before = {drug: dict(table) for drug, table in counts.items()}
        moving = sorted(drug for drug, counted_from in windows.items() if counted_from != cutoff)
        for start in range(0, len(moving), _CHUNK):
            chunk = moving[start : start + _CHUNK]
            in_groups = sa.and_(lp.c.admdvs == admdvs, lp.c.med_list_codg.in_(chunk))
            for drug, _admdvs, price, leaving, returning in await self._crossing(in_groups, cutoff):
                counts[drug][price] = counts[drug].get(price, 0) - leaving + returning
            await self.session.execute(
                sa.update(pw)
                .where(pw.c.admdvs == admdvs, pw.c.med_list_codg.in_(chunk))
                .values(counted_from=cutoff)
            )
        opened = [
            {"med_list_codg": drug, "admdvs": admdvs, "counted_from": cutoff}
            for drug in drugs
            if drug not in windows
        ]
        if opened:
            await self.session.execute(sa.insert(pw), opened)
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
        for start in range(0, len(inserts), _WRITE_BATCH):
            await self.session.execute(sa.insert(lp), inserts[start : start + _WRITE_BATCH])
        for start in range(0, len(updates), _WRITE_BATCH):
            await self.session.execute(sa.update(LatestPrice), updates[start : start + _WRITE_BATCH])
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
                        deletes.append({"d": drug, "p": price})
                    elif pharmacies != old[price]:
                        updates.append({**key, "pharmacies": pharmacies})
                elif pharmacies > 0:
                    inserts.append({**key, "pharmacies": pharmacies})
        if inserts:
            await self.session.execute(sa.insert(pc), inserts)
        if updates:
            await self.session.execute(sa.update(PriceCount), updates)
        if deletes:
            await self.session.execute(
                sa.delete(pc).where(
                    pc.c.admdvs == admdvs,
                    pc.c.med_list_codg == sa.bindparam("d"),
                    pc.c.price_micro == sa.bindparam("p"),
                ),
                deletes,
            )

    async def _write_references(
        self, admdvs: str, references: Mapping[str, Reference | None], now: datetime
    ) -> None:
        rp = table_of(ReferencePrice)
        drugs = sorted(references)
        existing: dict[str, tuple[int, str, int]] = {}
        for start in range(0, len(drugs), _CHUNK):
            rows = await self.session.execute(
                sa.select(rp.c.med_list_codg, rp.c.price_micro, rp.c.basis, rp.c.pharmacies).where(
                    rp.c.admdvs == admdvs, rp.c.med_list_codg.in_(drugs[start : start + _CHUNK])
                )
            )
            existing.update({drug: (price, basis, n) for drug, price, basis, n in rows})
        inserts, updates, deletes = [], [], []
        for drug in drugs:
            reference = references[drug]
            if reference is None:
                if drug in existing:
                    deletes.append({"d": drug})
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
        if inserts:
            await self.session.execute(sa.insert(rp), inserts)
        if updates:
            await self.session.execute(sa.update(ReferencePrice), updates)
        if deletes:
            await self.session.execute(
                sa.delete(rp).where(rp.c.admdvs == admdvs, rp.c.med_list_codg == sa.bindparam("d")), deletes
            )

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
                        pc.c.admdvs == admdvs, pc.c.med_list_codg.in_(drugs[start : start + _CHUNK])
                    )
                )
                for drug, price, pharmacies in tables:
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
        """Every window, price table and reference rebuilt from the latest prices."""
        lp, pc, pw, rp = (
            table_of(LatestPrice),
            table_of(PriceCount),
            table_of(PriceWindow),
            table_of(ReferencePrice),
        )
        await self.session.execute(sa.delete(pc))
        await self.session.execute(
            sa.insert(pc).from_select(
                ["med_list_codg", "admdvs", "price_micro", "pharmacies"],
                sa.select(lp.c.med_list_codg, lp.c.admdvs, lp.c.price_micro, sa.func.count())
                .where(lp.c.observed_at >= cutoff)
                .group_by(lp.c.med_list_codg, lp.c.admdvs, lp.c.price_micro),
            )
        )
        await self.session.execute(sa.delete(pw))
        await self.session.execute(
            sa.insert(pw).from_select(
                ["med_list_codg", "admdvs", "counted_from"],
                sa.select(lp.c.med_list_codg, lp.c.admdvs, sa.literal(cutoff, UtcDateTime())).group_by(
                    lp.c.med_list_codg, lp.c.admdvs
                ),
            )
        )
        await self.session.execute(sa.delete(rp))
        result = await self.session.stream(
            sa.select(pc.c.med_list_codg, pc.c.admdvs, pc.c.price_micro, pc.c.pharmacies).order_by(
                pc.c.med_list_codg, pc.c.admdvs
            ),
            execution_options={"yield_per": 10_000},
        )
        batch: list[dict[str, object]] = []
        group: tuple[str, str] | None = None
        table: dict[int, int] = {}

        def close_group() -> None:
            if group is None:
                return
            reference = reference_from_counts(table)
            if reference is not None:
                batch.append(
                    {
                        "med_list_codg": group[0],
                        "admdvs": group[1],
                        "price_micro": reference.price_micro,
                        "basis": reference.basis.value,
                        "pharmacies": reference.pharmacies,
                        "computed_at": now,
                    }
                )

        pending: list[list[dict[str, object]]] = []
        async for drug, admdvs, price, pharmacies in result:
            if group != (drug, admdvs):
                close_group()
                group, table = (drug, admdvs), {}
                if len(batch) >= _WRITE_BATCH:
                    pending.append(batch)
                    batch = []
            table[price] = pharmacies
        close_group()
        if batch:
            pending.append(batch)
        for rows in pending:
            await self.session.execute(sa.insert(rp), rows)

    async def restore_latest(
        self,
        *,
        fixmedins_code: str,
        admdvs: str,
        med_list_codg: str,
        cutoff: datetime,
        now: datetime,
    ) -> Reference | None:
        """After a pharmacy's sale was withdrawn: its latest price of the drug is again its newest remaining
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
