"""The policy's parameters: the default table parses, every bad value is named by its path, versions."""

from __future__ import annotations

import copy
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from common.national import Benefit
from settlement.domain.policy import (
    DEFAULT_EFFECTIVE_FROM,
    DEFAULT_PARAMETERS,
    DEFAULT_POLICY,
    MedTypeNotCovered,
    PolicyError,
    PolicyVersion,
    in_force,
    parse_policy,
)


def changed(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """DEFAULT_PARAMETERS with one value replaced, or removed when value is ...."""
    parameters = copy.deepcopy(DEFAULT_PARAMETERS)
    node = parameters
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return parameters


def test_the_default_table_parses_to_fen_and_decimal_ratios() -> None:
    employee, resident = DEFAULT_POLICY.scheme("310"), DEFAULT_POLICY.scheme("390")
    assert dict(employee.inpatient_deductible_fen) == {1: 30_000, 2: 60_000, 3: 100_000}
    assert dict(employee.inpatient_ratio) == {1: Decimal("0.92"), 2: Decimal("0.88"), 3: Decimal("0.85")}
    assert (employee.outpatient_deductible_fen, employee.outpatient_pool_cap_fen) == (70_000, 300_000)
    assert (employee.retiree_bonus, employee.max_ratio) == (Decimal("0.05"), Decimal("0.95"))
    assert employee.pool_ceiling_fen == 40_000_000
    assert (
        employee.supplementary_threshold_fen,
        employee.supplementary_ratio,
        employee.supplementary_cap_fen,
    ) == (2_000_000, Decimal("0.80"), 50_000_000)
    assert dict(resident.assistance_ratio) == {
        "extreme_poverty": Decimal("0.90"),
        "minimum_living": Decimal("0.80"),
        "monitored": Decimal("0.70"),
    }
    assert (resident.outpatient_deductible_fen, resident.assistance_cap_fen) == (0, 5_000_000)
    assert DEFAULT_POLICY.class_b_selfpay_prop == Decimal("0.10")


def test_parsing_the_same_parameters_twice_gives_equal_policies() -> None:
    assert parse_policy(copy.deepcopy(DEFAULT_PARAMETERS)) == DEFAULT_POLICY


def test_retiree_bonus_and_max_ratio_have_defaults() -> None:
    parameters = changed(("390", "retiree_bonus"), ...)
    del parameters["390"]["max_ratio"]
    resident = parse_policy(parameters).scheme("390")
    assert (resident.retiree_bonus, resident.max_ratio) == (Decimal(0), Decimal("0.95"))


def test_amounts_may_be_integers_or_decimals_with_two_places() -> None:
    parameters = changed(("310", "outpatient", "deductible_per_year"), 650)
    parameters["390"]["pool_ceiling_per_year"] = Decimal("200000.50")
    policy = parse_policy(parameters)
    assert (policy.scheme("310").outpatient_deductible_fen, policy.scheme("390").pool_ceiling_fen) == (
        65_000,
        20_000_050,
    )


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        (changed(("390",), ...), "parameters.390: missing or not an object"),
        (changed(("310",), "default"), "parameters.310: missing or not an object"),
        (changed(("310", "inpatient"), ...), "310.inpatient: missing or not an object"),
        (changed(("390", "assistance", "ratio"), ...), "390.assistance.ratio: missing or not an object"),
        (
            changed(("390", "assistance", "ratio", "monitored"), ...),
            "390.assistance.ratio: missing ['monitored']",
        ),
        (changed(("310", "inpatient", "deductible", "2"), ...), "310.inpatient.deductible: level 2 missing"),
        (
            changed(("310", "inpatient", "ratio", "4"), "0.5"),
            "310.inpatient.ratio: unknown levels ['4']",
        ),
        (changed(("310", "inpatient", "ratio", "1"), "1.01"), "310.inpatient.ratio.1: a ratio is at most 1"),
        (
            changed(("390", "outpatient", "ratio", "3"), "0.12345"),
            "390.outpatient.ratio.3: at most 4 decimal places",
        ),
        (
            changed(("390", "outpatient", "ratio", "3"), 0.3),
            "390.outpatient.ratio.3: expected a decimal number as a string",
        ),
        (changed(("310", "max_ratio"), True), "310.max_ratio: expected a decimal number as a string"),
        (changed(("310", "max_ratio"), "NaN"), "310.max_ratio: must be a non-negative number"),
        (changed(("310", "max_ratio"), "abc"), "310.max_ratio: not a number"),
        (
            changed(("310", "outpatient", "pool_cap_per_year"), "-1"),
            "310.outpatient: must be a non-negative number",
        ),
        (
            changed(("310", "outpatient", "pool_cap_per_year"), "3000.001"),
            "310.outpatient: at most 2 decimal places",
        ),
        (
            changed(("310", "outpatient", "deductible_per_year"), ...),
            "310.outpatient: expected a decimal number as a string",
        ),
        (
            changed(("390", "pool_ceiling_per_year"), None),
            "390.pool_ceiling_per_year: expected a decimal number as a string",
        ),
        (
            changed(("390", "supplementary", "cap"), "-5"),
            "390.supplementary.cap: must be a non-negative number",
        ),
        (
            changed(("class_b_selfpay_prop",), ...),
            "class_b_selfpay_prop: expected a decimal number as a string",
        ),
        (changed(("class_b_selfpay_prop",), "1.5"), "class_b_selfpay_prop: a ratio is at most 1"),
        (changed(("392",), {}), "parameters: unknown keys ['392']"),
    ],
)
def test_a_bad_parameter_is_named_by_its_path(parameters: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy(parameters)
    assert str(raised.value) == message


def test_an_absurdly_large_amount_is_a_policy_error_too() -> None:
    with pytest.raises(PolicyError, match=r"^390\.assistance\.cap_per_year: "):
        parse_policy(changed(("390", "assistance", "cap_per_year"), "1e400"))


def test_parameters_that_are_not_an_object_are_refused() -> None:
    with pytest.raises(PolicyError, match=r"^parameters: expected an object$"):
        parse_policy(["310", "390"])  # type: ignore[arg-type]


def test_the_version_in_force_is_the_latest_begun_by_that_day() -> None:
    later = parse_policy(changed(("class_b_selfpay_prop",), "0.20"))
    versions = [
        PolicyVersion(0, DEFAULT_EFFECTIVE_FROM, DEFAULT_POLICY),
        PolicyVersion(3, date(2026, 4, 1), later),
        PolicyVersion(2, date(2027, 1, 1), DEFAULT_POLICY),
    ]
    assert in_force(versions, date(2000, 1, 1)).version == 0
    assert in_force(versions, date(2026, 3, 31)).version == 0
    assert in_force(versions, date(2026, 4, 1)).version == 3
    assert in_force(versions, date(2026, 12, 31)).policy.class_b_selfpay_prop == Decimal("0.20")
    assert in_force(versions, date(2027, 1, 1)).version == 2


def test_no_version_is_in_force_before_the_default_table() -> None:
    with pytest.raises(PolicyError, match="no policy in force on 1999-12-31"):
        in_force([PolicyVersion(0, DEFAULT_EFFECTIVE_FROM, DEFAULT_POLICY)], date(1999, 12, 31))


# --- benefits: how each med_type is paid ---------------------------------------------------------------


def test_the_default_table_pays_each_national_med_type_as_its_default_benefit() -> None:
    assert DEFAULT_POLICY.benefits == {
        "11": Benefit.OUTPATIENT,
        "12": Benefit.OUTPATIENT,
        "13": Benefit.OUTPATIENT,
        "14": Benefit.OUTPATIENT,
        "21": Benefit.INPATIENT,
        "22": Benefit.INPATIENT,
        "23": Benefit.INPATIENT,
        "24": Benefit.INPATIENT,
        "28": Benefit.INPATIENT,
        "41": Benefit.PHARMACY,
        "51": Benefit.OUTPATIENT,
        "52": Benefit.INPATIENT,
        "53": Benefit.OUTPATIENT,
    }


def test_a_version_stored_before_benefits_existed_gets_the_default_table() -> None:
    assert parse_policy(changed(("benefits",), ...)) == DEFAULT_POLICY


def test_a_med_type_the_policy_leaves_out_is_not_covered() -> None:
    policy = parse_policy(changed(("benefits",), {"11": "outpatient", "13": "inpatient"}))
    assert (policy.benefit_of("11"), policy.benefit_of("13")) == (Benefit.OUTPATIENT, Benefit.INPATIENT)
    with pytest.raises(MedTypeNotCovered):
        policy.benefit_of("21")


@pytest.mark.parametrize(
    ("benefits", "message"),
    [
        ({"99": "outpatient"}, "benefits: unknown med_type ['99']"),
        ({"13": "emergency"}, "benefits.13: 'emergency' is not one of outpatient, inpatient, pharmacy"),
        ({}, "benefits: expected an object mapping at least one med_type to its benefit"),
        (["11"], "benefits: expected an object mapping at least one med_type to its benefit"),
    ],
)
def test_bad_benefits_are_a_policy_error_naming_them(benefits: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(message)):
        parse_policy(changed(("benefits",), benefits))
