"""Route of enrollment statistics (参保统计)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from common.deps import PROBLEMS
from common.principal import OpsPrincipal
from enrollment.schemas.stats import EnrollmentStats, StatsRow
from enrollment.service import stats as service
from enrollment.uow import Uow

router = APIRouter()


@router.get(
    "/stats/enrollment",
    response_model=EnrollmentStats,
    responses=PROBLEMS,
    tags=["statistics 统计"],
    summary="Counts of persons and coverages by insutype and status 参保统计",
)
async def enrollment_stats(
    uow: Uow, _ops: OpsPrincipal, admdvs: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None
) -> EnrollmentStats:
    """Counts for the bureau's reports: persons registered and deceased, and coverages by insutype and
    status, for the whole city or one region (`admdvs`).
    """
    counts = await service.enrollment_counts(uow=uow, admdvs=admdvs)
    return EnrollmentStats(
        admdvs=admdvs,
        persons=counts.persons,
        deceased=counts.deceased,
        coverages=[StatsRow(insutype=c.insutype, status=c.status, count=c.count) for c in counts.coverages],
    )
