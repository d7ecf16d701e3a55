"""Reference data and enrollment projections written straight into settlement's tables, for tests of the
settle path (the API of reference data and the event consumers that feed projections have their own tests).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from common.clock import business_date
from common.db import Database
from settlement.domain.ledger import contribution_legs
from settlement.models import (
    CatalogItem,
    CoverageProjection,
    FamilyBinding,
    Institution,
    InsuredPerson,
    PersonalAccount,
)
from settlement.repository.journal import JournalRepository

SEEDED_AT = datetime(2026, 1, 1, tzinfo=UTC)


async def seed_institution(
    db: Database,
    code: str,
    *,
    fixmedins_type: str = "hospital",
    hosp_lv: int | None = 2,
    admdvs: str = "420100",
    status: str = "active",
) -> None:
    async with db.transaction() as session:
        session.add(
            Institution(
                fixmedins_code=code,
                fixmedins_name=f"机构{code}",
                fixmedins_type=fixmedins_type,
                hosp_lv=hosp_lv if fixmedins_type == "hospital" else None,
                admdvs=admdvs,
                status=status,
                updated_at=SEEDED_AT,
            )
        )


async def seed_catalog(
    db: Database,
    code: str,
    chrgitm_lv: str,
    *,
    selfpay_prop: str | None = None,
    pric_uplmt_amt: str | None = None,
    gend_lmt: str | None = None,
    age_min: int | None = None,
    age_max: int | None = None,
    max_cnt_per_visit: str | None = None,
) -> None:
    async with db.transaction() as session:
        session.add(
            CatalogItem(
                med_list_codg=code,
                name=f"项目{code}",
                chrgitm_lv=chrgitm_lv,
                selfpay_prop=selfpay_prop,
                pric_uplmt_amt=pric_uplmt_amt,
                gend_lmt=gend_lmt,
                age_min=age_min,
                age_max=age_max,
                max_cnt_per_visit=max_cnt_per_visit,
                updated_at=SEEDED_AT,
            )
        )


async def seed_person(
    db: Database,
    psn_no: str,
    *,
    insutype: str = "310",
    psn_type: str | None = "employed",
    assistance: str | None = None,
    gend: str = "1",
    brdy: date = date(1980, 5, 1),
    begndate: date = date(2020, 1, 1),
    benefit_start_date: date | None = None,
    enddate: date | None = None,
    death_date: date | None = None,
    incentive_raise_fen: int = 0,
    coverage_id: int | None = None,
    suspensions: list[list[str | None]] | None = None,
) -> None:
    attached = {"310": ["330"], "390": ["392"]}[insutype]
    async with db.transaction() as session:
        session.add(
            InsuredPerson(
                psn_no=psn_no,
                gend=gend,
                brdy=brdy,
                admdvs="420100",
                death_date=death_date,
                updated_at=SEEDED_AT,
            )
        )
        session.add(
            CoverageProjection(
                coverage_id=coverage_id or abs(hash(psn_no)) % 10**9,
                psn_no=psn_no,
                insutype=insutype,
                attached_insutypes=attached,
                status="active" if enddate is None else "ended",
                begndate=begndate,
                enddate=enddate,
                psn_type=psn_type if insutype == "310" else None,
                assistance=assistance,
                benefit_start_date=benefit_start_date or begndate,
                incentive_raise_fen=incentive_raise_fen,
                suspensions=suspensions or [],
                source_time=SEEDED_AT,
            )
        )


async def credit_account(db: Database, psn_no: str, fen: int, *, ref: str | None = None) -> None:
    """A contribution's account part, as the enrollment consumer would post it (row and journal)."""
    async with db.transaction() as session:
        existing = await session.get(PersonalAccount, psn_no)
        if existing is None:
            session.add(PersonalAccount(psn_no=psn_no, balc_fen=fen, updated_at=SEEDED_AT))
        else:
            existing.balc_fen += fen
        await session.flush()
        await JournalRepository(session).post(
            kind="contribution",
            ref=ref or f"seed:{psn_no}:{fen}",
            business_date=business_date(SEEDED_AT),
            legs=contribution_legs(psn_no=psn_no, insutype="310", amount_fen=fen * 5, acct_amount_fen=fen),
            now=SEEDED_AT,
        )


async def bind_family(db: Database, holder: str, member: str) -> None:
    async with db.transaction() as session:
        session.add(FamilyBinding(member_psn_no=member, holder_psn_no=holder, source_time=SEEDED_AT))


async def count(db: Database, table: type) -> int:
    async with db.transaction(readonly=True) as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
