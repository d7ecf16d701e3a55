"""Backtest (回测): a rule instance, with its parameters or new ones, over a range of settled history.

Reads only: nothing is written, no finding raised, no event sent.
"""

from __future__ import annotations

from common.money import fen_to_yuan
from fraud.domain.families import FAMILIES, INSTITUTION
from fraud.schemas.rules import BacktestHit, BacktestIn, BacktestOut
from fraud.service.history import claim_from_record, load_history
from fraud.service.institution_rules import backtest_months
from fraud.service.rules import ActiveRule, get_rule, parsed_params, validated_params
from fraud.uow import FraudUnitOfWork

SAMPLE_SIZE = 20


async def backtest(*, uow: FraudUnitOfWork, rule_id: int, body: BacktestIn, max_claims: int) -> BacktestOut:
    """How many settlements of [from, to] (settlement dates) the rule would flag, with a sample of hits."""
    row = await get_rule(uow=uow, rule_id=rule_id)
    family = FAMILIES[row.family]
    stored = (
        row.params
        if body.params is None
        else validated_params(family, body.params, parsed_params(family, row.params))
    )
    rule = ActiveRule(
        row.rule_id, row.version, family, parsed_params(family, stored), row.severity, row.scope
    )
    if family.level == INSTITUTION:
        return await backtest_months(uow=uow, rule=rule, stored=stored, body=body)
    records = await uow.claims.standing_settled_between(body.from_date, body.to_date, limit=max_claims + 1)
    truncated = len(records) > max_claims
    records = records[:max_claims]
    flagged: set[str] = set()
    keys: set[str] = set()
    hits = vola = 0
    sample: list[BacktestHit] = []
    for record in records:
        claim = await claim_from_record(uow=uow, record=record)
        # As it stood when the claim was settled: later settlements are not its history.
        history = await load_history(uow=uow, claim=claim, rules=[rule], settled_before=record.setl_time)
        for hit in family.check(claim, history, rule.params):
            hits += 1
            vola += hit.vola_fen or 0
            flagged.add(record.setl_id)
            keys.add(hit.key)
            if len(sample) < SAMPLE_SIZE:
                sample.append(
                    BacktestHit(
                        setl_id=record.setl_id,
                        psn_no=record.psn_no,
                        fixmedins_code=record.fixmedins_code,
                        setl_date=record.setl_date,
                        message=hit.message,
                        feedetl_sn=hit.feedetl_sn,
                        vola_amt=fen_to_yuan(hit.vola_fen) if hit.vola_fen is not None else None,
                    )
                )
    return BacktestOut(
        rule_id=row.rule_id,
        family=family.name,
        params=stored,
        from_date=body.from_date,
        to_date=body.to_date,
        settlements_examined=len(records),
        settlements_flagged=len(flagged),
        hits=hits,
        findings_it_would_raise=len(keys),
        vola_amt=fen_to_yuan(vola),
        truncated=truncated,
        sample=sample,
    )
