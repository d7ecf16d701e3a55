"""Routes of reference prices (参考价), their recompute, and the monitoring settings ops change."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from common.deps import PROBLEMS, ClockDep
from common.principal import OpsPrincipal
from pricing.api.deps import PharmacyPrincipal
from pricing.domain.money import micro_to_price
from pricing.schemas.drugs import Admdvs, MedListCodg, MonitoringSettingsIn, MonitoringSettingsOut
from pricing.schemas.monitoring import RecomputeOut, ReferencePriceOut
from pricing.service import reference as service
from pricing.service import settings as monitoring
from pricing.service.settings import Monitoring
from pricing.uow import Uow

router = APIRouter()
REFERENCE = "reference prices 参考价"
SETTINGS = "settings 预警参数"


@router.get(
    "/reference-prices",
    response_model=list[ReferencePriceOut],
    responses=PROBLEMS,
    tags=[REFERENCE],
    summary="Reference prices by drug and region 参考价查询",
)
async def list_reference_prices(
    uow: Uow,
    _who: PharmacyPrincipal,
    med_list_codg: Annotated[MedListCodg | None, Query(description="医保目录编码")] = None,
    admdvs: Annotated[Admdvs | None, Query(description="行政区划")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ReferencePriceOut]:
    """The reference prices (参考价) in force, by drug and region, filtered by either or both.

    A reference price is the mode (众数价) of the region's pharmacies' latest prices within the window, else
    their median, and says which (`basis`) and over how many pharmacies. Sales keep it current; prices that
    age out of the window leave at the next recompute.
    """
    found = await service.list_references(uow=uow, med_list_codg=med_list_codg, admdvs=admdvs, limit=limit)
    return [
        ReferencePriceOut(
            med_list_codg=row.med_list_codg,
            admdvs=row.admdvs,
            reference_pric=micro_to_price(row.price_micro),
            basis=row.basis,
            pharmacies=row.pharmacies,
            computed_at=row.computed_at,
        )
        for row in found
    ]


@router.post(
    "/reference-prices/recompute",
    response_model=RecomputeOut,
    responses=PROBLEMS,
    tags=[REFERENCE],
    summary="Bring every reference price up to the window's edge 参考价重算",
    description="Sales keep reference prices up to date as they arrive; this takes out the prices that aged "
    "out of the window for drugs nobody sold since, reading only those prices (also run periodically with "
    "PRICING_RECOMPUTE_SCHEDULE). `rebuild=true` rebuilds every price table and reference from all the "
    "latest prices instead: a repair, and much slower.",
)
async def recompute(
    uow: Uow,
    _ops: OpsPrincipal,
    clock: ClockDep,
    rebuild: Annotated[bool, Query(description="rebuild everything from the latest prices (repair)")] = False,
) -> RecomputeOut:
    settings = await monitoring.current(uow=uow)
    result = await service.recompute(
        uow=uow, window_days=settings.window_days, now=clock.now(), rebuild=rebuild
    )
    return RecomputeOut(
        aged_out=result.aged_out,
        references=result.references,
        previous_references=result.previous_references,
        seconds=result.seconds,
    )


def settings_out(settings: Monitoring) -> MonitoringSettingsOut:
    return MonitoringSettingsOut(
        yellow_threshold=format(settings.thresholds.yellow, "f"),
        red_threshold=format(settings.thresholds.red, "f"),
        procurement_factor=format(settings.thresholds.procurement_factor, "f"),
        window_days=settings.window_days,
        index_warning_line=format(settings.index_warning_line, "f"),
        updated_by=settings.updated_by,
        updated_at=settings.updated_at,
    )


@router.get(
    "/settings",
    response_model=MonitoringSettingsOut,
    responses=PROBLEMS,
    tags=[SETTINGS],
    summary="预警参数 settings",
)
async def get_settings(uow: Uow, _ops: OpsPrincipal) -> MonitoringSettingsOut:
    """The monitoring settings in force: the yellow and red thresholds of the difference ratio (差值比), the
    procurement factor, the reference-price window in days, the index warning line, and who set them when.
    """
    return settings_out(await monitoring.current(uow=uow))


@router.put(
    "/settings",
    response_model=MonitoringSettingsOut,
    responses=PROBLEMS,
    tags=[SETTINGS],
    summary="Replace the thresholds, the window and the warning line 预警参数设置",
    description="A new window applies to the next sale of each drug and to the next recompute.",
)
async def put_settings(
    body: MonitoringSettingsIn, uow: Uow, ops: OpsPrincipal, clock: ClockDep
) -> MonitoringSettingsOut:
    return settings_out(await monitoring.replace(uow=uow, data=body, updated_by=ops.client_id, clock=clock))
