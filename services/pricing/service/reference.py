"""Reference prices kept up to date on every sale, rebuilt on demand for prices that aged out of the window.

Per (drug, region) the service keeps each pharmacy's latest price (`latest_price`), where the group's table
starts (`price_window.counted_from`: the latest prices observed since are in it) and how many pharmacies
ask each price (`price_count`). A sale moves one pharmacy from its old price to its new one (two counts
change) after moving the group's window to the cutoff (the prices observed in between leave), and the
reference is read off the group's price table — never recomputed from the sales. `recompute` moves every
group's window to the cutoff (the groups nobody sold since), reading only the prices that crossed it;
`recompute(rebuild=True)` rebuilds everything from the latest prices (a repair).
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from common.db import UtcDateTime
from pricing.domain.reference import Reference, reference_from_counts
from pricing.models import LatestPrice, Observation, PriceCount, PriceWindow, ReferencePrice, table_of

_CHUNK = 900
_WRITE_BATCH = 2000


@dataclass(frozen=True, slots=True)
class RecomputeResult:
    aged_out: int
    references: int
    previous_references: int
    seconds: float


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _lock_key(med_list_codg: str, admdvs: str) -> int:
    digest = hashlib.blake2b(f"pricing|{med_list_codg}|{admdvs}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock_groups(session: AsyncSession, admdvs: str, drugs: Iterable[str]) -> None:
    """On PostgreSQL, serialise the writers of each (drug, region) for the transaction (SQLite has one writer).

    Taken in key order, so two uploads that share drugs queue instead of deadlocking.
    """
    if not _is_postgres(session):
        return
    keys = sorted({_lock_key(drug, admdvs) for drug in drugs})
    if keys:
        # One round trip; the ordered subquery feeds the locks in key order.
        await session.execute(
            sa.text(
                "SELECT count(pg_advisory_xact_lock(k)) FROM "
                "(SELECT k FROM unnest(CAST(:keys AS bigint[])) AS u(k) ORDER BY k) AS ordered"
            ),
            {"keys": keys},
        )


async def update_references(
    session: AsyncSession,
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
    await lock_groups(session, admdvs, drugs)
    lp, pc, pw = table_of(LatestPrice), table_of(PriceCount), table_of(PriceWindow)
    mine: dict[str, tuple[int, datetime]] = {}
    windows: dict[str, datetime] = {}
    counts: dict[str, dict[int, int]] = defaultdict(dict)
    for start in range(0, len(drugs), _CHUNK):
        chunk = drugs[start : start + _CHUNK]
        rows = await session.execute(
            sa.select(lp.c.med_list_codg, lp.c.price_micro, lp.c.observed_at).where(
                lp.c.admdvs == admdvs, lp.c.fixmedins_code == fixmedins_code, lp.c.med_list_codg.in_(chunk)
            )
        )
        mine.update({drug: (price, observed_at) for drug, price, observed_at in rows})
        found = await session.execute(
            sa.select(pw.c.med_list_codg, pw.c.counted_from).where(
                pw.c.admdvs == admdvs, pw.c.med_list_codg.in_(chunk)
            )
        )
        windows.update({drug: counted_from for drug, counted_from in found})
        tables = await session.execute(
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
        for drug, _admdvs, price, leaving, returning in await _crossing(session, in_groups, cutoff):
            counts[drug][price] = counts[drug].get(price, 0) - leaving + returning
        await session.execute(
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
        await session.execute(sa.insert(pw), opened)
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
        await session.execute(sa.insert(lp), inserts[start : start + _WRITE_BATCH])
    for start in range(0, len(updates), _WRITE_BATCH):
        await session.execute(sa.update(LatestPrice), updates[start : start + _WRITE_BATCH])
    await _write_counts(session, admdvs, before, counts)
    references = {drug: reference_from_counts(counts.get(drug, {})) for drug in drugs}
    await _write_references(session, admdvs, references, now)
    return references


async def _crossing(
    session: AsyncSession, where: sa.ColumnElement[bool], cutoff: datetime
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
        for drug, admdvs, price, out, back in (await session.execute(query)).all()
    ]


async def _write_counts(
    session: AsyncSession,
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
        await session.execute(sa.insert(pc), inserts)
    if updates:
        await session.execute(sa.update(PriceCount), updates)
    if deletes:
        await session.execute(
            sa.delete(pc).where(
                pc.c.admdvs == admdvs,
                pc.c.med_list_codg == sa.bindparam("d"),
                pc.c.price_micro == sa.bindparam("p"),
            ),
            deletes,
        )


async def _write_references(
    session: AsyncSession, admdvs: str, references: Mapping[str, Reference | None], now: datetime
) -> None:
    rp = table_of(ReferencePrice)
    drugs = sorted(references)
    existing: dict[str, tuple[int, str, int]] = {}
    for start in range(0, len(drugs), _CHUNK):
        rows = await session.execute(
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
        await session.execute(sa.insert(rp), inserts)
    if updates:
        await session.execute(sa.update(ReferencePrice), updates)
    if deletes:
        await session.execute(
            sa.delete(rp).where(rp.c.admdvs == admdvs, rp.c.med_list_codg == sa.bindparam("d")), deletes
        )


async def get_reference(session: AsyncSession, med_list_codg: str, admdvs: str) -> ReferencePrice | None:
    return await session.get(ReferencePrice, (med_list_codg, admdvs))


async def list_references(
    session: AsyncSession, *, med_list_codg: str | None, admdvs: str | None, limit: int
) -> list[ReferencePrice]:
    query = sa.select(ReferencePrice)
    if med_list_codg:
        query = query.where(ReferencePrice.med_list_codg == med_list_codg)
    if admdvs:
        query = query.where(ReferencePrice.admdvs == admdvs)
    query = query.order_by(ReferencePrice.med_list_codg, ReferencePrice.admdvs).limit(limit)
    return list((await session.scalars(query)).all())


async def recompute(
    session: AsyncSession, *, window_days: int, now: datetime, rebuild: bool = False
) -> RecomputeResult:
    """Bring every reference price up to the window's edge.

    By default this moves each group's window to the cutoff: the latest prices observed in between (one
    range of the observed_at index) leave their tables, and only the groups they touched are recounted and
    get a new reference. With `rebuild` every table and reference is rebuilt from all the latest prices
    instead (a repair; it reads every latest price).

    On PostgreSQL the four tables are locked for the run, so sales recorded meanwhile wait for it rather
    than being overwritten by it.
    """
    started = time.perf_counter()
    lp, pw, rp = table_of(LatestPrice), table_of(PriceWindow), table_of(ReferencePrice)
    if _is_postgres(session):
        await session.execute(
            sa.text(
                "LOCK TABLE latest_price, price_window, price_count, reference_price IN SHARE ROW EXCLUSIVE MODE"
            )
        )
    cutoff = now - timedelta(days=window_days)
    before = await session.scalar(sa.select(sa.func.count()).select_from(rp)) or 0
    earliest, latest = (
        await session.execute(sa.select(sa.func.min(pw.c.counted_from), sa.func.max(pw.c.counted_from)))
    ).one()
    crossing: list[tuple[str, str, int, int, int]] = []
    if earliest is not None:
        # Only prices between the oldest window start and the cutoff can cross: one index range.
        low, high = min(earliest, cutoff), max(latest, cutoff)
        crossing = await _crossing(session, sa.and_(lp.c.observed_at >= low, lp.c.observed_at < high), cutoff)
    aged_out = sum(out for *_, out, _back in crossing)
    if rebuild:
        await _rebuild(session, cutoff, now)
    else:
        await session.execute(sa.update(pw).where(pw.c.counted_from != cutoff).values(counted_from=cutoff))
        await _apply_crossing(session, crossing, now)
    held = await session.scalar(sa.select(sa.func.count()).select_from(rp)) or 0
    return RecomputeResult(
        aged_out=aged_out,
        references=held,
        previous_references=before,
        seconds=round(time.perf_counter() - started, 3),
    )


async def _apply_crossing(
    session: AsyncSession, crossing: Iterable[tuple[str, str, int, int, int]], now: datetime
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
            tables = await session.execute(
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
        await _write_counts(session, admdvs, before, counts)
        await _write_references(
            session, admdvs, {drug: reference_from_counts(counts[drug]) for drug in drugs}, now
        )


async def _rebuild(session: AsyncSession, cutoff: datetime, now: datetime) -> None:
    """Every window, price table and reference rebuilt from the latest prices."""
    lp, pc, pw, rp = (
        table_of(LatestPrice),
        table_of(PriceCount),
        table_of(PriceWindow),
        table_of(ReferencePrice),
    )
    await session.execute(sa.delete(pc))
    await session.execute(
        sa.insert(pc).from_select(
            ["med_list_codg", "admdvs", "price_micro", "pharmacies"],
            sa.select(lp.c.med_list_codg, lp.c.admdvs, lp.c.price_micro, sa.func.count())
            .where(lp.c.observed_at >= cutoff)
            .group_by(lp.c.med_list_codg, lp.c.admdvs, lp.c.price_micro),
        )
    )
    await session.execute(sa.delete(pw))
    await session.execute(
        sa.insert(pw).from_select(
            ["med_list_codg", "admdvs", "counted_from"],
            sa.select(lp.c.med_list_codg, lp.c.admdvs, sa.literal(cutoff, UtcDateTime())).group_by(
                lp.c.med_list_codg, lp.c.admdvs
            ),
        )
    )
    await session.execute(sa.delete(rp))
    result = await session.stream(
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
        await session.execute(sa.insert(rp), rows)


async def restore_latest(
    session: AsyncSession,
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
        await session.execute(
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
    await session.execute(sa.delete(lp).where(mine))
    if newest is not None:
        price, observed_at = newest
        await session.execute(
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
    await session.execute(sa.delete(pw).where(window))
    await session.execute(
        sa.insert(pw).values(med_list_codg=med_list_codg, admdvs=admdvs, counted_from=cutoff)
    )
    counts = {
        int(price): int(n)
        for price, n in (
            await session.execute(
                sa.select(lp.c.price_micro, sa.func.count())
                .where(group, lp.c.observed_at >= cutoff)
                .group_by(lp.c.price_micro)
            )
        ).all()
    }
    await session.execute(sa.delete(pc).where(pc.c.med_list_codg == med_list_codg, pc.c.admdvs == admdvs))
    if counts:
        await session.execute(
            sa.insert(pc),
            [
                {"med_list_codg": med_list_codg, "admdvs": admdvs, "price_micro": price, "pharmacies": n}
                for price, n in sorted(counts.items())
            ],
        )
    reference = reference_from_counts(counts)
    await _write_references(session, admdvs, {med_list_codg: reference}, now)
    return reference
