"""Routes of drug reference data and of the public comparison (药价比价)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from common.bulk import BULK_RESPONSES, bulk_body, records_of
from common.deps import PROBLEMS, ClockDep
from common.principal import OpsPrincipal
from pricing.api.deps import AnyPrincipal
from pricing.domain.money import micro_to_price
from pricing.models import Drug
from pricing.schemas.drugs import Admdvs, BulkOut, DrugIn, DrugOut, DrugPage, DrugRow, MedListCodg
from pricing.schemas.monitoring import ComparedPharmacy, CompareOut
from pricing.service import compare as comparison
from pricing.service import drugs as service
from pricing.uow import Uow

router = APIRouter()
DRUGS = "drugs 药品基础信息"
PUBLIC = "public 公众比价"
DrugCode = Annotated[MedListCodg, Path(description="医保目录编码 drug code")]


def drug_out(drug: Drug) -> DrugOut:
    return DrugOut(
        med_list_codg=drug.med_list_codg,
        generic_name=drug.generic_name,
        dosage_form=drug.dosage_form,
        spec=drug.spec,
        manufacturer=drug.manufacturer,
        listing_price=micro_to_price(drug.listing_price_micro) if drug.listing_price_micro else None,
        procurement_price=micro_to_price(drug.procurement_price_micro)
        if drug.procurement_price_micro
        else None,
        updated_at=drug.updated_at,
    )


@router.put(
    "/drugs/{med_list_codg}",
    response_model=DrugOut,
    status_code=201,
    responses={**PROBLEMS, 200: {"description": "It existed: replaced"}},
    tags=[DRUGS],
    summary="Create or replace a drug 药品基础信息维护",
)
async def put_drug(
    med_list_codg: DrugCode,
    body: DrugIn,
    uow: Uow,
    _ops: OpsPrincipal,
    clock: ClockDep,
    response: Response,
) -> DrugOut:
    """Create or replace one drug's reference data, keyed by its code in the medical-insurance catalogue.

    Generic name, dosage form, spec, manufacturer, the listing price (挂网价) and the centralised-procurement
    price (集采中选价).

    201 when the drug is new, 200 when it replaced the existing record. The procurement price feeds the
    light of every later sale: a price above 1.5 × it (the configurable factor) is red whatever the
    reference.
    """
    put = await service.put_drug(uow=uow, med_list_codg=med_list_codg, data=body, clock=clock)
    if not put.created:
        response.status_code = 200
    return drug_out(put.drug)


@router.post(
    "/drugs/bulk",
    response_model=BulkOut,
    responses={**PROBLEMS, **BULK_RESPONSES},
    tags=[DRUGS],
    summary="Load many drugs, all or nothing (JSON or CSV) 药品基础信息批量导入",
    openapi_extra=bulk_body(
        "drugs",
        {
            "drugs": [
                {
                    "med_list_codg": "XC10AAA0001010101",
                    "generic_name": "阿托伐他汀钙片",
                    "dosage_form": "片剂",
                    "spec": "20mg*7片",
                    "manufacturer": "北京嘉林药业股份有限公司",
                    "listing_price": "25.80",
                    "procurement_price": "4.68",
                },
                {"med_list_codg": "XJ01CAA0001010101", "generic_name": "阿莫西林胶囊", "spec": "0.25g*24粒"},
            ]
        },
        "med_list_codg,generic_name,dosage_form,spec,manufacturer,listing_price,procurement_price\n"
        "XC10AAA0001010101,阿托伐他汀钙片,片剂,20mg*7片,北京嘉林药业股份有限公司,25.80,4.68\n"
        "XJ01CAA0001010101,阿莫西林胶囊,胶囊剂,0.25g*24粒,,,\n",
    ),
)
async def load_drugs(request: Request, uow: Uow, _ops: OpsPrincipal, clock: ClockDep) -> BulkOut:
    """Create or replace many drugs at once (the catalogue's initial load or a monthly refresh), as JSON or CSV.

    All or nothing: one bad record is 422 BULK_INVALID listing the rows and fields at fault, and nothing is
    written. The answer counts the drugs created, updated and unchanged, so a reloaded file is harmless.
    """
    records = await records_of(request, "drugs", DrugRow)
    outcome = await service.load_drugs(uow=uow, records=records, clock=clock)
    return BulkOut(created=outcome.created, updated=outcome.updated, unchanged=outcome.unchanged)


@router.get(
    "/drugs/{med_list_codg}",
    response_model=DrugOut,
    responses=PROBLEMS,
    tags=[DRUGS],
    summary="One drug 药品查询",
)
async def get_drug(med_list_codg: DrugCode, uow: Uow, _who: AnyPrincipal) -> DrugOut:
    """One drug's reference data with its listing and procurement prices. 404 DRUG_NOT_FOUND."""
    return drug_out(await service.get_drug(uow=uow, med_list_codg=med_list_codg))


@router.get(
    "/drugs",
    response_model=DrugPage,
    responses=PROBLEMS,
    tags=[PUBLIC, DRUGS],
    summary="Search drugs by name 药品名称检索 (open to the public)",
)
async def search_drugs(
    uow: Uow,
    _who: AnyPrincipal,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="any part of the generic name, or the code's start"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=200, description="next_cursor of the previous page")
    ] = None,
) -> DrugPage:
    """Find drugs by any part of the generic name or by the start of the code, in code order.

    Open to the public site (with its key) as well as to hospitals, pharmacies and staff: the first step of
    a price comparison. Without `q`, every drug. Pass `next_cursor` as `cursor` for the next page.
    """
    page = await service.search_drugs(
        uow=uow, q=(q.strip() or None) if q else None, limit=limit, cursor=cursor
    )
    return DrugPage(items=[drug_out(drug) for drug in page.items], next_cursor=page.next_cursor)


@router.get(
    "/compare",
    response_model=CompareOut,
    responses=PROBLEMS,
    tags=[PUBLIC],
    summary="Compare a drug's price across the pharmacies of a region, cheapest first 药价比价 (open to the public)",
)
async def compare(
    uow: Uow,
    _who: AnyPrincipal,
    clock: ClockDep,
    med_list_codg: Annotated[MedListCodg, Query(description="医保目录编码 drug code")],
    admdvs: Annotated[Admdvs, Query(description="行政区划 6-digit region, e.g. 420100")],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CompareOut:
    """A drug's latest price at each pharmacy of a region, cheapest first, with the region's reference price.

    Open to the public site. Only pharmacies whose latest price lies in the monitoring window are listed;
    each price carries its light (green, yellow, red) against the reference, so a patient sees both where it
    is cheapest and which prices are out of line. `reference_pric` is null while the region has none yet.
    404 DRUG_NOT_FOUND.
    """
    found = await comparison.compare(
        uow=uow, med_list_codg=med_list_codg, admdvs=admdvs, now=clock.now(), limit=limit
    )
    drug = found.drug
    return CompareOut(
        med_list_codg=drug.med_list_codg,
        generic_name=drug.generic_name,
        spec=drug.spec,
        manufacturer=drug.manufacturer,
        admdvs=admdvs,
        reference_pric=micro_to_price(found.reference_micro) if found.reference_micro is not None else None,
        pharmacies=[
            ComparedPharmacy(
                fixmedins_code=offer.fixmedins_code,
                fixmedins_name=offer.fixmedins_name,
                pric=micro_to_price(offer.price_micro),
                light=offer.light.value,
                observed_at=offer.observed_at,
            )
            for offer in found.offers
        ],
    )
