"""Monthly warnings (每月推送预警): per institution, its open findings, its deviations from its peers and its
traceability-code scan rate, stored and sent (fraud.warning.published) through the outbox.

Publishing a month again is idempotent: an institution whose warning would say the same gets nothing new;
one whose figures changed (a finding decided, a late settlement, a reversal) gets the next version, sent
again. An institution reads only its own warnings.
"""

from __future__ import annotations

import hashlib
import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from common.clock import Clock
from common.errors import NotFound
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.events.fraud import WarningPublished
from common.money import fen_to_yuan
from common.principal import Principal, ensure_scope
from common.repository import Page
from fraud.domain.families import FAMILIES, FRAUD
from fraud.domain.institutions import METRICS, deviation, institution_outlier
from fraud.domain.params import ParamValue, validate_params
from fraud.models import InstitutionWarning
from fraud.schemas.institutions import PublishOut
from fraud.service.institution_rules import MonthBook, ensure_month_over
from fraud.service.rules import load_active_rules
from fraud.service.tracecodes import scan_rates
from fraud.uow import FraudUnitOfWork

OUTLIER = "institution_outlier"
_PLACES = Decimal("0.0001")


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.quantize(_PLACES, ROUND_HALF_UP), "f")


async def _outlier_params(uow: FraudUnitOfWork) -> dict[str, ParamValue]:
    """The deviations are judged as the first enabled institution_outlier rule judges them (else its defaults)."""
    for rule in await load_active_rules(uow=uow, scopes=("pre", "in", "post")):
        if rule.family.name == OUTLIER:
            return rule.params
    return validate_params(FAMILIES[OUTLIER].params, {})


async def publish_month(*, uow: FraudUnitOfWork, month: str, by: str, clock: Clock) -> PublishOut:
    """Build each institution's warning of a finished month; store and send those new or changed."""
    first, last = ensure_month_over(month, clock)
    await uow.warnings.lock_publishing()
    params = await _outlier_params(uow)
    least = params["min_cases"]
    assert isinstance(least, int)
    book = MonthBook(month, first, last)
    months = {facts.own.fixmedins_code: facts for facts in await book.institutions(uow, params)}
    findings: dict[str, list[tuple[str, int, int]]] = {}
    for code, family, count, vola in await uow.institution_months.open_findings(category=FRAUD):
        findings.setdefault(code, []).append((family, int(count), int(vola)))
    rates = dict(await scan_rates(uow=uow, month=month, fixmedins_code=None))
    published: list[int] = []
    unchanged = 0
    for code in sorted(set(months) | set(findings) | set(rates)):
        own = findings.get(code, [])
        deviations = []
        facts = months.get(code)
        above = {hit.key.rsplit(":", 1)[1] for hit in institution_outlier(facts, params)} if facts else set()
        for name in METRICS:
            found = deviation(facts, name, min_cases=least) if facts is not None else None
            value = found.value if found else None
            mean = found.peers_mean if found else None
            deviations.append(
                {
                    "metric": name,
                    "value": _text(value),
                    "peers_mean": _text(mean),
                    "peers": found.peers if found else 0,
                    "ratio": str(found.ratio) if found and found.ratio is not None else None,
                    "above": name in above,
                }
            )
        rate = rates.get(code)
        content: dict[str, Any] = {
            "open_findings": {
                "count": sum(count for _, count, _ in own),
                "vola_amt": str(fen_to_yuan(sum(vola for _, _, vola in own))),
                "by_family": [
                    {"family": family, "count": count, "vola_amt": str(fen_to_yuan(vola))}
                    for family, count, vola in own
                ],
            },
            "deviations": deviations,
            "scan_rate": None
            if rate is None
            else {
                "lines_needing": rate.lines_needing,
                "lines_scanned": rate.lines_scanned,
                "rate": _text(rate.rate),
            },
        }
        digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
        latest = await uow.warnings.latest(code, month)
        if latest is not None and latest.digest == digest:
            unchanged += 1
            continue
        if latest is not None:
            latest.latest = False
            await uow.warnings.flush()
        row = InstitutionWarning(
            fixmedins_code=code,
            month=month,
            version=latest.version + 1 if latest else 1,
            latest=True,
            content=content,
            digest=digest,
            published_at=clock.now(),
            published_by=by,
        )
        uow.warnings.add(row)
        await uow.warnings.flush()
        published.append(row.warning_id)
        data = WarningPublished.model_validate(
            {
                "warning_id": str(row.warning_id),
                "fixmedins_code": code,
                "month": month,
                "version": row.version,
                **content,
                "published_at": row.published_at,
            }
        )
        await uow.publish(
            new_event(
                type=Subject.WARNING_PUBLISHED,
                source="fraud",
                subject=f"{code}:{month}",
                data=data.model_dump(mode="json"),
                clock=clock,
            )
        )
    return PublishOut(month=month, published=published, unchanged=unchanged)


async def list_warnings(
    *, uow: FraudUnitOfWork, month: str | None, fixmedins_code: str | None, limit: int, cursor: str | None
) -> Page[InstitutionWarning]:
    """The latest warning of each institution and month, newest first, filtered."""
    return await uow.warnings.page(month=month, fixmedins_code=fixmedins_code, limit=limit, cursor=cursor)


async def get_warning(*, uow: FraudUnitOfWork, warning_id: int, principal: Principal) -> InstitutionWarning:
    """One warning (any version); 404 WARNING_NOT_FOUND, 403 SCOPE_FORBIDDEN for another institution's."""
    row = await uow.warnings.get(warning_id)
    if row is None:
        raise NotFound(f"No warning {warning_id}.", code="WARNING_NOT_FOUND")
    ensure_scope(principal, row.fixmedins_code)
    return row
