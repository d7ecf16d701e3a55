"""Drug reference data: one drug created or replaced, or many at once (all or nothing), and name search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from common.bulk import LoadResult, Row, valid_rows
from common.clock import Clock
from common.repository import Page
from pricing.domain.money import price_to_micro
from pricing.models import Drug
from pricing.schemas.drugs import DrugIn, DrugRow
from pricing.uow import PricingUnitOfWork


def drug_row(med_list_codg: str, data: DrugIn) -> Row:
    """The stored values of a drug."""
    return {
        "med_list_codg": med_list_codg,
        "generic_name": data.generic_name,
        "dosage_form": data.dosage_form or None,
        "spec": data.spec,
        "manufacturer": data.manufacturer,
        "listing_price_micro": price_to_micro(data.listing_price) if data.listing_price else None,
        "procurement_price_micro": price_to_micro(data.procurement_price) if data.procurement_price else None,
    }


def valid_drug_rows(records: Sequence[object]) -> list[Row]:
    """Every record validated; any failure is one 422 BULK_INVALID listing them all (nothing written)."""
    return valid_rows(
        records, model=DrugRow, key="med_list_codg", to_row=lambda item: drug_row(item.med_list_codg, item)
    )


@dataclass(frozen=True, slots=True)
class PutDrug:
    """The drug as stored, and whether this call created it (False: it replaced the one there)."""

    drug: Drug
    created: bool


async def get_drug(*, uow: PricingUnitOfWork, med_list_codg: str) -> Drug:
    """The drug of a code, or 404 DRUG_NOT_FOUND."""
    return await uow.drugs.must_get(med_list_codg)


async def put_drug(*, uow: PricingUnitOfWork, med_list_codg: str, data: DrugIn, clock: Clock) -> PutDrug:
    """Create or replace one drug."""
    outcome = await uow.drugs.upsert([drug_row(med_list_codg, data)], now=clock.now())
    return PutDrug(await uow.drugs.must_get(med_list_codg), created=outcome.created == 1)


async def load_drugs(*, uow: PricingUnitOfWork, records: Sequence[object], clock: Clock) -> LoadResult:
    """Create or replace many drugs, all or nothing: any bad record is 422 BULK_INVALID."""
    return await uow.drugs.upsert(valid_drug_rows(records), now=clock.now())


async def load_drug_rows(*, uow: PricingUnitOfWork, rows: Sequence[Row], clock: Clock) -> LoadResult:
    """Create or replace drugs already validated by valid_drug_rows (the CLI validates the whole file first)."""
    return await uow.drugs.upsert(rows, now=clock.now())


async def search_drugs(
    *, uow: PricingUnitOfWork, q: str | None, limit: int, cursor: str | None
) -> Page[Drug]:
    """Drugs in code order; q matches any part of the generic name or the start of the code."""
    return await uow.drugs.search(q=q, limit=limit, cursor=cursor)
