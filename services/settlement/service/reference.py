"""Reference data of settlement: designated institutions, the catalogue, and the versioned policy (with the
依码结算 switches, cached beside it)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from common.bulk import LoadResult, Row, Upserted, valid_rows
from common.clock import Clock, business_date
from common.errors import Conflict, NotFound, Unprocessable
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.events.settlement import CatalogChanged, InstitutionChanged
from common.repository import Page
from settlement.domain import policy as domain
from settlement.domain.policy import (
    DEFAULT_EFFECTIVE_FROM,
    DEFAULT_PARAMETERS,
    DEFAULT_POLICY,
    PolicyError,
    PolicyVersion,
    parse_policy,
)
from settlement.domain.split import CLASS_A, CLASS_C, CatalogEntry
from settlement.models import CatalogItem, Institution
from settlement.models import PolicyVersion as PolicyVersionRow
from settlement.repository.catalogue import CatalogueRepository
from settlement.repository.institutions import InstitutionRepository
from settlement.repository.policies import PolicyVersionRepository
from settlement.repository.trace_codes import TraceCodePolicyRepository
from settlement.schemas.reference import (
    CatalogItemIn,
    CatalogItemRow,
    FixmedinsType,
    InstitutionIn,
    InstitutionRow,
    PolicyIn,
)
from settlement.uow import SettlementUnitOfWork

SOURCE = "settlement"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Saved(Generic[T]):
    """A record created or replaced by a put, and whether it was created."""

    record: T
    created: bool


def decimal_text(value: Decimal, *, places: int = 0) -> str:
    """The one stored spelling of a decimal: no exponent, no trailing zeros beyond `places` (12.50 -> 12.5)."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    assert isinstance(exponent, int)
    return format(normal if -exponent > places else normal.quantize(Decimal(1).scaleb(-places)), "f")


async def _announce(
    uow: SettlementUnitOfWork,
    upserted: Upserted,
    *,
    key: str,
    subject: str,
    contract: type[BaseModel],
    clock: Clock,
) -> LoadResult:
    """One event for each record the upsert created or changed, whole as it now stands."""
    await uow.publish(
        *(
            new_event(
                type=subject,
                source=SOURCE,
                subject=row[key],
                data=contract.model_validate(row).model_dump(mode="json"),
                clock=clock,
            )
            for row in upserted.created + upserted.changed
        )
    )
    return upserted.result


# --- institutions ---------------------------------------------------------------------------------------


def institution_row(fixmedins_code: str, data: InstitutionIn) -> Row:
    """The stored values of an institution, after the rules that tie its fields together."""
    is_hospital = data.fixmedins_type is FixmedinsType.HOSPITAL
    if is_hospital and data.hosp_lv is None:
        raise Unprocessable(
            "A hospital needs its level hosp_lv (1, 2 or 3).", code="INVALID_HOSP_LV", field="hosp_lv"
        )
    if not is_hospital and data.hosp_lv is not None:
        raise Unprocessable("A pharmacy has no hosp_lv.", code="INVALID_HOSP_LV", field="hosp_lv")
    if not is_hospital and (data.points_payment or data.points_coefficient is not None):
        raise Unprocessable(
            "Only a hospital's inpatient care is paid by points: a pharmacy has no points_payment.",
            code="POINTS_PAYMENT_HOSPITAL_ONLY",
            field="points_payment",
        )
    return {
        "fixmedins_code": fixmedins_code,
        "fixmedins_name": data.fixmedins_name,
        "fixmedins_type": data.fixmedins_type.value,
        "hosp_lv": data.hosp_lv,
        "admdvs": data.admdvs,
        "status": data.status.value,
        "points_payment": data.points_payment,
        "points_coefficient": (
            decimal_text(data.points_coefficient, places=2) if data.points_coefficient is not None else None
        ),
    }


async def _store_institutions(uow: SettlementUnitOfWork, rows: Sequence[Row], *, clock: Clock) -> LoadResult:
    upserted = await uow.institutions.upsert(rows, now=clock.now())
    return await _announce(
        uow,
        upserted,
        key="fixmedins_code",
        subject=Subject.INSTITUTION_CHANGED,
        contract=InstitutionChanged,
        clock=clock,
    )


async def find_institution(session: AsyncSession, fixmedins_code: str) -> Institution | None:
    """The institution of a code, or None (for the claims path, which reads on its own session)."""
    return await InstitutionRepository(session).find(fixmedins_code)


async def get_institution(*, uow: SettlementUnitOfWork, fixmedins_code: str) -> Institution:
    """The institution of a code, or 404 INSTITUTION_NOT_FOUND."""
    institution = await uow.institutions.find(fixmedins_code)
    if institution is None:
        raise NotFound(
            "No such designated institution.", code="INSTITUTION_NOT_FOUND", fixmedins_code=fixmedins_code
        )
    return institution


async def put_institution(
    *, uow: SettlementUnitOfWork, fixmedins_code: str, data: InstitutionIn, clock: Clock
) -> Saved[Institution]:
    """Create or replace one institution; an event only if anything changed."""
    outcome = await _store_institutions(uow, [institution_row(fixmedins_code, data)], clock=clock)
    return Saved(await get_institution(uow=uow, fixmedins_code=fixmedins_code), outcome.created == 1)


async def load_institutions(
    *, uow: SettlementUnitOfWork, records: Sequence[object], clock: Clock
) -> LoadResult:
    """Create or replace many institutions, all or nothing: any bad record is 422 BULK_INVALID."""
    rows = valid_rows(
        records,
        model=InstitutionRow,
        key="fixmedins_code",
        to_row=lambda item: institution_row(item.fixmedins_code, item),
    )
    return await _store_institutions(uow, rows, clock=clock)


async def list_institutions(
    *,
    uow: SettlementUnitOfWork,
    admdvs: str | None,
    fixmedins_type: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Institution]:
    """Institutions in code order, a page at a time."""
    return await uow.institutions.page(
        admdvs=admdvs, fixmedins_type=fixmedins_type, status=status, limit=limit, cursor=cursor
    )


# --- the catalogue --------------------------------------------------------------------------------------


def catalog_row(med_list_codg: str, data: CatalogItemIn) -> Row:
    """The stored values of a catalogue item, after the rules that tie its fields together."""
    share = data.selfpay_prop
    if data.chrgitm_lv == CLASS_A and share not in (None, Decimal(0)):
        raise Unprocessable(
            "A 甲类 (01) item has no self-pay share: leave selfpay_prop out or give 0.",
            code="INVALID_SELFPAY_PROP",
            field="selfpay_prop",
        )
    if data.chrgitm_lv == CLASS_C and share not in (None, Decimal(1)):
        raise Unprocessable(
            "A 丙类 (03) item is paid by the person in full: leave selfpay_prop out or give 1.",
            code="INVALID_SELFPAY_PROP",
            field="selfpay_prop",
        )
    if data.age_min is not None and data.age_max is not None and data.age_min > data.age_max:
        raise Unprocessable("age_min is above age_max.", code="INVALID_AGE_RANGE", field="age_min")
    # Only a 乙类 item's share means anything; the class says it all for the others.
    keep_share = share is not None and data.chrgitm_lv not in (CLASS_A, CLASS_C)
    return {
        "med_list_codg": med_list_codg,
        "name": data.name,
        "chrgitm_lv": data.chrgitm_lv.value,
        "selfpay_prop": decimal_text(share, places=2) if keep_share and share is not None else None,
        "pric_uplmt_amt": decimal_text(data.pric_uplmt_amt, places=2)
        if data.pric_uplmt_amt is not None
        else None,
        "gend_lmt": data.gend_lmt.value if data.gend_lmt else None,
        "age_min": data.age_min,
        "age_max": data.age_max,
        "max_cnt_per_visit": decimal_text(data.max_cnt_per_visit)
        if data.max_cnt_per_visit is not None
        else None,
        "trac_codg_required": data.trac_codg_required,
    }


async def _store_catalog(uow: SettlementUnitOfWork, rows: Sequence[Row], *, clock: Clock) -> LoadResult:
    upserted = await uow.catalogue.upsert(rows, now=clock.now())
    return await _announce(
        uow,
        upserted,
        key="med_list_codg",
        subject=Subject.CATALOG_CHANGED,
        contract=CatalogChanged,
        clock=clock,
    )


async def get_catalog_item(*, uow: SettlementUnitOfWork, med_list_codg: str) -> CatalogItem:
    """The catalogue item of a code, or 404 CATALOG_ITEM_NOT_FOUND."""
    item = await uow.catalogue.find(med_list_codg)
    if item is None:
        raise NotFound("No such catalogue item.", code="CATALOG_ITEM_NOT_FOUND", med_list_codg=med_list_codg)
    return item


async def put_catalog_item(
    *, uow: SettlementUnitOfWork, med_list_codg: str, data: CatalogItemIn, clock: Clock
) -> Saved[CatalogItem]:
    """Create or replace one catalogue item; an event only if anything changed."""
    outcome = await _store_catalog(uow, [catalog_row(med_list_codg, data)], clock=clock)
    return Saved(await get_catalog_item(uow=uow, med_list_codg=med_list_codg), outcome.created == 1)


async def load_catalog(*, uow: SettlementUnitOfWork, records: Sequence[object], clock: Clock) -> LoadResult:
    """Create or replace many catalogue items, all or nothing: any bad record is 422 BULK_INVALID."""
    rows = valid_rows(
        records,
        model=CatalogItemRow,
        key="med_list_codg",
        to_row=lambda item: catalog_row(item.med_list_codg, item),
    )
    return await _store_catalog(uow, rows, clock=clock)


async def list_catalog(
    *, uow: SettlementUnitOfWork, q: str | None, chrgitm_lv: str | None, limit: int, cursor: str | None
) -> Page[CatalogItem]:
    """Catalogue items in code order; q matches the start of the code or any part of the name."""
    return await uow.catalogue.page(q=q, chrgitm_lv=chrgitm_lv, limit=limit, cursor=cursor)


async def catalog_entries(session: AsyncSession, codes: Collection[str]) -> dict[str, CatalogEntry]:
    """The catalogue entries of the given codes, absent when not in the catalogue (for the claims path)."""
    return await CatalogueRepository(session).entries(codes)


# --- the policy -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    """A policy version as stored (the built-in default is version 0)."""

    version: int
    effective_from: date
    parameters: Mapping[str, Any]
    note: str | None
    created_by: str
    created_at: datetime | None


DEFAULT_RECORD = PolicyRecord(
    version=0,
    effective_from=DEFAULT_EFFECTIVE_FROM,
    parameters=DEFAULT_PARAMETERS,
    note="默认政策 the default table shipped with the service (DESIGN.md §6.2)",
    created_by="system",
    created_at=None,
)


def _record(row: PolicyVersionRow) -> PolicyRecord:
    return PolicyRecord(
        version=row.version_id,
        effective_from=row.effective_from,
        parameters=row.parameters,
        note=row.note,
        created_by=row.created_by,
        created_at=row.created_at,
    )


async def _records(policies: PolicyVersionRepository) -> list[PolicyRecord]:
    return [DEFAULT_RECORD, *(_record(row) for row in await policies.in_effective_order())]


async def policy_records(*, uow: SettlementUnitOfWork) -> list[PolicyRecord]:
    """Every version in effective order, the built-in default first."""
    return await _records(uow.policies)


def record_in_force(records: Sequence[PolicyRecord], on: date) -> PolicyRecord:
    """The record in force on a business date, or 404 NO_POLICY_IN_FORCE before the default's date."""
    for record in reversed(records):
        if record.effective_from <= on:
            return record
    raise NotFound(f"No policy was in force on {on}.", code="NO_POLICY_IN_FORCE")


async def add_policy_version(
    *, uow: SettlementUnitOfWork, data: PolicyIn, created_by: str, clock: Clock
) -> PolicyRecord:
    """A new policy version from a future date: settlements already made keep the meaning they had."""
    today = business_date(clock.now())
    if data.effective_from <= today:
        raise Unprocessable(
            f"effective_from must be after today ({today}): settlements made under the policy in force "
            "must not change meaning.",
            code="POLICY_BACKDATED",
            field="effective_from",
        )
    parameters = data.parameters.model_dump(mode="json", by_alias=True)
    try:
        parse_policy(parameters)
    except PolicyError as exc:
        raise Unprocessable(str(exc), code="INVALID_POLICY") from exc
    existing = await uow.policies.version_from(data.effective_from)
    if existing is not None:
        raise Conflict(
            f"A policy version takes effect on {data.effective_from} already.",
            code="POLICY_EXISTS",
            version=existing,
        )
    row = PolicyVersionRow(
        effective_from=data.effective_from,
        parameters=parameters,
        note=data.note,
        created_by=created_by,
        created_at=clock.now(),
    )
    if not await uow.policies.insert(row):  # added concurrently a moment ago
        raise Conflict(
            f"A policy version takes effect on {data.effective_from} already.", code="POLICY_EXISTS"
        )
    return _record(row)


class PolicyBook:
    """Policy versions cached per replica for ttl_s; the default table is version 0."""

    def __init__(self, *, ttl_s: float, clock: Clock) -> None:
        self._ttl = timedelta(seconds=ttl_s)
        self._clock = clock
        self._cached: tuple[datetime, list[PolicyVersion]] | None = None
        self._trace_codes: tuple[datetime, frozenset[str]] | None = None
        self._generation = 0

    async def versions(self, session: AsyncSession) -> list[PolicyVersion]:
        """Every version in effective order, the default first (from the cache while it is fresh)."""
        now = self._clock.now()
        if self._cached is not None and timedelta(0) <= now - self._cached[0] < self._ttl:
            return list(self._cached[1])
        generation = self._generation
        versions = [
            PolicyVersion(
                record.version,
                record.effective_from,
                DEFAULT_POLICY if record.version == 0 else parse_policy(record.parameters),
            )
            for record in await _records(PolicyVersionRepository(session))
        ]
        # A load that began before an invalidate() may hold what the invalidation replaced: use, don't keep.
        if generation == self._generation:
            self._cached = (now, versions)
        return list(versions)

    async def in_force(self, session: AsyncSession, on: date) -> PolicyVersion:
        """The version in force on a business date."""
        return domain.in_force(await self.versions(session), on)

    async def trace_codes_required(self, session: AsyncSession) -> frozenset[str]:
        """The institution types whose drug lines must carry traceability codes (依码结算), from the cache
        while it is fresh: the settle path reads it with no query of its own."""
        now = self._clock.now()
        if self._trace_codes is not None and timedelta(0) <= now - self._trace_codes[0] < self._ttl:
            return self._trace_codes[1]
        generation = self._generation
        required = await TraceCodePolicyRepository(session).required_types()
        if generation == self._generation:
            self._trace_codes = (now, required)
        return required

    def invalidate(self) -> None:
        """Forget the cache (after this replica added a version); other replicas catch up within ttl_s."""
        self._cached = None
        self._trace_codes = None
        self._generation += 1
