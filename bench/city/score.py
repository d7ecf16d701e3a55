"""Scoring what the platform found against the planted cases: precision and recall per rule family.

A claim-level finding belongs to a planted case by its settlement (admission_frequency also by the person);
an institution-level one (induced_admission, institution_outlier, upcoding: `setl_id` null) by its
institution; trace_code_reuse is scored on the claims the real-time review blocked, price_index on the
pharmacies listed above the warning line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.city.model import INSTITUTION_FAMILIES, City, PlantedCase
from bench.city.play import DayOutcome


@dataclass(frozen=True, slots=True)
class FamilyScore:
    family: str
    planted: int  # cases planted for the family
    found: int  # planted cases detected
    detections: int  # findings (or blocks, or listings) the platform made for the family
    true_positives: int  # of those, the ones that belong to a planted case

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.detections if self.detections else None

    @property
    def recall(self) -> float | None:
        return self.found / self.planted if self.planted else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "planted": self.planted,
            "found": self.found,
            "detections": self.detections,
            "true_positives": self.true_positives,
            "precision": self.precision,
            "recall": self.recall,
        }


def setl_ids(outcomes: Iterable[DayOutcome]) -> dict[str, str]:
    """medins_setl_id → setl_id of every accepted claim."""
    return {medins: claim.setl_id for outcome in outcomes for medins, claim in outcome.accepted.items()}


def belongs(
    case: PlantedCase, finding: Mapping[str, Any], setl: Mapping[str, str], psn_no: Mapping[str, str]
) -> bool:
    """Whether a finding (of the case's family) is the planted case's: by institution for an
    institution-level family, else by settlement (admission_frequency also by person)."""
    if case.family in INSTITUTION_FAMILIES:
        return finding.get("setl_id") is None and finding.get("fixmedins_code") == case.fixmedins_code
    case_setl = {setl[m] for m in case.medins_setl_ids if m in setl}
    case_psn = {psn_no[p] for p in case.persons}
    return finding.get("setl_id") in case_setl or (
        case.family == "admission_frequency" and finding.get("psn_no") in case_psn
    )


def score(
    city: City,
    psn_no: Mapping[str, str],
    outcomes: list[DayOutcome],
    findings: list[dict[str, Any]],
    listed: Iterable[str],
    red_alerts: list[dict[str, Any]],
) -> list[FamilyScore]:
    """One score per family that was planted or that raised anything (a family nobody planted scores its noise)."""
    setl = setl_ids(outcomes)
    by_family: dict[str, list[PlantedCase]] = {}
    for case in city.cases:
        by_family.setdefault(case.family, []).append(case)
    findings_by_family: dict[str, list[dict[str, Any]]] = {}
    for finding in findings:
        findings_by_family.setdefault(str(finding["family"]), []).append(finding)

    def matches(case: PlantedCase, finding: dict[str, Any]) -> bool:
        return belongs(case, finding, setl, psn_no)

    scores: list[FamilyScore] = []
    refused = {m: r for outcome in outcomes for m, r in outcome.refused.items()}
    blocked_trace = {m for m, r in refused.items() if "trace_code_reuse" in r.hit_families}
    listed_set = set(listed)
    families = sorted(
        set(by_family) | set(findings_by_family) | ({"trace_code_reuse"} if blocked_trace else set())
    )
    for family in families:
        cases = by_family.get(family, [])
        if family == "trace_code_reuse":
            triggers = {case.trigger for case in cases}
            found = sum(1 for case in cases if case.trigger in blocked_trace)
            tp = len(blocked_trace & triggers)
            scores.append(FamilyScore(family, len(cases), found, len(blocked_trace), tp))
        elif family == "price_index":
            overpriced = {case.fixmedins_code for case in cases}
            scores.append(
                FamilyScore(
                    family,
                    len(cases),
                    len(overpriced & listed_set),
                    len(listed_set),
                    len(overpriced & listed_set),
                )
            )
        else:
            mine = findings_by_family.get(family, [])
            found = sum(1 for case in cases if any(matches(case, f) for f in mine))
            tp = sum(1 for f in mine if any(matches(case, f) for case in cases))
            scores.append(FamilyScore(family, len(cases), found, len(mine), tp))
    overpriced = set(city.overpriced)
    red_at = {str(alert["fixmedins_code"]) for alert in red_alerts}
    scores.append(
        FamilyScore(
            "red_alerts",
            len(overpriced),
            len(overpriced & red_at),
            len(red_alerts),
            sum(1 for alert in red_alerts if alert["fixmedins_code"] in overpriced),
        )
    )
    return scores
