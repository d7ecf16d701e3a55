"""Routes of the volume-price comparison index (量价比较指数): one pharmacy's month, a region's ranking."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from common.deps import PROBLEMS
from common.money import fen_to_yuan
from common.principal import OpsPrincipal
from pricing.api.deps import PharmacyPrincipal, ensure_scope
from pricing.schemas.drugs import Admdvs, FixmedinsCode
from pricing.schemas.monitoring import PriceIndexOut, RankingOut
from pricing.service import index as service
from pricing.service import settings as monitoring
from pricing.service.index import PharmacyIndex
from pricing.uow import Uow

router = APIRouter()
INDEX = "price index 量价比较指数"
Month = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]


def index_out(found: PharmacyIndex, warning_line: str) -> PriceIndexOut:
    return PriceIndexOut(
        fixmedins_code=found.fixmedins_code,
        fixmedins_name=found.fixmedins_name,
        admdvs=found.admdvs,
        month=found.month,
        lines=found.lines,
        sales_amount=fen_to_yuan(found.sales_fen),
        reference_amount=fen_to_yuan(found.reference_fen),
        price_index=format(found.index, "f") if found.index is not None else None,
        warning_line=warning_line,
        above_warning_line=found.above,
    )


@router.get(
    "/pharmacies/{fixmedins_code}/price-index",
    response_model=PriceIndexOut,
    responses=PROBLEMS,
    tags=[INDEX],
    summary="A pharmacy's volume-price comparison index for a month 药店量价比较指数",
)
async def pharmacy_index(
    fixmedins_code: Annotated[FixmedinsCode, Path(description="定点零售药店编码")],
    month: Month,
    uow: Uow,
    who: PharmacyPrincipal,
) -> PriceIndexOut:
    """A pharmacy's volume-price comparison index (量价比较指数) for a month.

    Σ(price × quantity) over its sales divided by Σ(reference × quantity), each sale against the reference
    in force when it was made, rounded half-up to 4 places.

    1.0 means it sold at the reference on average; strictly above the warning line (default 1.10) the
    pharmacy is flagged for an interview (约谈). The index is null when nothing could be compared. A
    pharmacy may read only its own.
    """
    ensure_scope(who, fixmedins_code)
    settings = await monitoring.current(uow=uow)
    found = await service.pharmacy_index(
        uow=uow, fixmedins_code=fixmedins_code, month=month, warning_line=settings.index_warning_line
    )
    return index_out(found, format(settings.index_warning_line, "f"))


@router.get(
    "/price-index/ranking",
    response_model=RankingOut,
    responses=PROBLEMS,
    tags=[INDEX],
    summary="Pharmacies of a region ranked by index, those above the warning line listed 量价比较指数排名",
)
async def ranking(
    month: Month,
    uow: Uow,
    _ops: OpsPrincipal,
    admdvs: Annotated[Admdvs | None, Query(description="行政区划; absent: every region")] = None,
) -> RankingOut:
    """The pharmacies of a region (or of the city) ranked by their index for a month, highest first.

    Those strictly above the warning line are listed apart in `listed`: the bureau's list of pharmacies to
    interview (约谈).
    """
    settings = await monitoring.current(uow=uow)
    line = format(settings.index_warning_line, "f")
    found = await service.ranking(
        uow=uow, month=month, admdvs=admdvs, warning_line=settings.index_warning_line
    )
    return RankingOut(
        month=month,
        admdvs=admdvs,
        warning_line=line,
        items=[index_out(item, line) for item in found],
        listed=[item.fixmedins_code for item in found if item.above],
    )
