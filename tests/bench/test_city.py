"""The synthetic city: reproducible, valid for the services' own request models, and its planted cases real."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bench.city import City, ClaimSpec, generate_city
from bench.city.generate import MIN_PEERS, OUTLIER_CATEGORY, OUTLIER_LEVEL
from bench.city.model import INSTITUTION_FAMILIES
from common.money import yuan_to_fen
from enrollment.domain.certno import parse_certno
from enrollment.schemas.contributions import ContributionIn
from enrollment.schemas.coverages import CoverageIn
from enrollment.schemas.families import FamilyIn
from enrollment.schemas.persons import BulkPersonsIn, DeathIn, PersonIn
from fraud.domain.families import CARE_PREFIXES, FAMILIES
from fraud.domain.institutions import Admission, InstitutionFigures, InstitutionMonth
from fraud.domain.params import ParamValue
from fraud.schemas.practitioners import PractitionerIn
from pricing.schemas.drugs import DrugRow
from pricing.schemas.monitoring import SalesIn
from settlement.domain.points import (
    Adrg,
    CaseCoding,
    Deviation,
    DipGrouper,
    DrgGrouper,
    Group,
    Procedure,
    YearParameters,
    case_points,
)
from settlement.schemas.claims import OneCallSettlementIn
from settlement.schemas.points import (
    AdrgRow,
    ComplicationRow,
    DipRowRow,
    GroupRow,
    PaymentYearRow,
    QualityScoreRow,
    SettlementListIn,
)
from settlement.schemas.reference import CatalogItemRow, InstitutionRow

START = date(2026, 3, 27)


@pytest.fixture(scope="module")
def city() -> City:
    return generate_city(11, 1200, days=3, start=START)


def _played(city: City) -> list[tuple[int, int, ClaimSpec]]:
    """Every claim with its (day index, phase index), in playing order."""
    return [
        (d, p, claim)
        for d, day in enumerate(city.days)
        for p, phase in enumerate(day.phases)
        for claim in phase.claims
    ]


def _medfee(claim: ClaimSpec) -> Decimal:
    return sum((Decimal(line["det_item_fee_sumamt"]) for line in claim.body["feedetail"]), Decimal(0))


def _begin(claim: ClaimSpec) -> date:
    return datetime.fromisoformat(claim.body["begntime"]).date()


def _end(claim: ClaimSpec) -> date:
    return datetime.fromisoformat(claim.body["endtime"]).date()


def test_the_same_seed_gives_the_same_bytes_and_another_seed_another_city() -> None:
    first = generate_city(3, 300, days=2, start=START).to_json()
    assert generate_city(3, 300, days=2, start=START).to_json() == first
    assert b'"payment_years"' in first and b'"settlement_list"' in first  # payment by points included
    assert generate_city(4, 300, days=2, start=START).to_json() != first
    assert generate_city(3, 300, days=3, start=START).to_json() != first


def test_a_city_too_small_for_its_planted_cases_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 150 persons"):
        generate_city(1, 149)


def test_every_certno_passes_enrollments_checksum_and_agrees_with_gender_and_birth_date(city: City) -> None:
    certnos = [person.person["certno"] for person in city.persons]
    assert len(set(certnos)) == len(certnos) == 1200
    for person in city.persons:
        parsed = parse_certno(person.person["certno"], today=START)
        assert parsed.gend == person.person["gend"]
        assert parsed.birth_date.isoformat() == person.person["brdy"]
    kinds = Counter(person.kind for person in city.persons)
    assert set(kinds) == {"employee", "retiree", "resident"}
    assert any(person.waiting for person in city.persons)
    assert {p.assistance for p in city.persons} >= {"extreme_poverty", "minimum_living", "monitored"}


def test_every_payload_fits_the_request_models_of_the_service_that_takes_it(city: City) -> None:
    for row in city.institutions:
        InstitutionRow.model_validate(row)
    classes = {CatalogItemRow.model_validate(row).chrgitm_lv for row in city.catalog}
    assert classes == {"01", "02", "03"}
    limits = [
        row
        for row in city.catalog
        if {"pric_uplmt_amt", "gend_lmt", "age_max", "max_cnt_per_visit"} & set(row)
    ]
    assert {key for row in limits for key in row} >= {
        "pric_uplmt_amt",
        "gend_lmt",
        "age_max",
        "max_cnt_per_visit",
    }
    drugs = [DrugRow.model_validate(row) for row in city.drugs]
    assert all(drug.listing_price for drug in drugs)
    assert any(drug.procurement_price for drug in drugs)
    BulkPersonsIn.model_validate({"persons": [person.person for person in city.persons]})
    for person in city.persons:
        PersonIn.model_validate(person.person)
        CoverageIn.model_validate(person.coverage)
        for contribution in person.contributions:
            ContributionIn.model_validate(contribution)
    for family in city.families:
        FamilyIn.model_validate(
            {"holder_psn_no": "P" + family.holder, "member_psn_nos": ["P" + m for m in family.members]}
        )
    for _, _, claim in _played(city):
        parsed = OneCallSettlementIn.model_validate({**claim.body, "psn_no": "P" + claim.person})
        assert parsed.fixmedins_code == claim.fixmedins_code
        for line in parsed.feedetail:
            assert line.cnt * line.pric == line.det_item_fee_sumamt  # exact: whole counts, prices in fen
    for day in city.days:
        for phase in day.phases:
            for batch in phase.sales:
                assert SalesIn.model_validate(batch.body).fixmedins_code == batch.fixmedins_code
            for death in phase.deaths:
                DeathIn.model_validate({"death_date": death.death_date})
    setl_ids = [claim.medins_setl_id for _, _, claim in _played(city)]
    assert len(set(setl_ids)) == len(setl_ids)


def test_claims_carry_about_ten_lines_and_every_kind_of_visit(city: City) -> None:
    claims = [claim for _, _, claim in _played(city)]
    by_type = Counter(claim.body["med_type"] for claim in claims)
    assert set(by_type) == {"11", "14", "21", "41"}
    lines = [len(claim.body["feedetail"]) for claim in claims]
    assert 6 <= sum(lines) / len(lines) <= 12
    assert all(
        line["drug_trac_codg"]
        for claim in claims
        if claim.body["med_type"] == "41"
        for line in claim.body["feedetail"]
    )


def test_every_planted_case_is_in_the_ground_truth_and_consistent_with_the_claims(city: City) -> None:
    truth = city.ground_truth({person.key: f"N{person.key}" for person in city.persons})
    kinds = Counter(case["kind"] for case in truth["cases"])
    assert kinds == {
        "repeated_admissions": 1,
        "split_admission": 1,
        "cost_outlier": 1,
        "trace_code_reuse": 1,
        "after_death": 1,
        "overpriced_pharmacy": len(city.overpriced),
        "bed_hold": 1,
        "trace_code_sold": 1,
        "induced_admission": 1,
        "institution_outlier": 1,
        "upcoding": 1,
    }
    played = {claim.medins_setl_id: (d, p, claim) for d, p, claim in _played(city)}
    for case in city.cases:
        assert all(m in played for m in case.medins_setl_ids), case.case_id
        if case.trigger is not None:
            # The trigger comes in a later phase than the rest of its pattern: the rules see the history first.
            trigger_at = played[case.trigger][:2]
            assert all(played[m][:2] < trigger_at for m in case.medins_setl_ids if m != case.trigger), (
                case.case_id
            )
        claims = [played[m][2] for m in case.medins_setl_ids]
        if case.kind == "repeated_admissions":
            assert [c.body["med_type"] for c in claims] == ["21", "21", "21"]
            assert len({c.person for c in claims}) == 1
            assert (_begin(claims[-1]) - _begin(claims[0])).days < 365
            assert len({c.fixmedins_code for c in claims}) == 3  # no split admission among them
        elif case.kind == "split_admission":
            before, after = claims
            assert before.fixmedins_code == after.fixmedins_code
            assert before.body["dise_codg"][:3] == after.body["dise_codg"][:3]
            assert 0 <= (_begin(after) - _end(before)).days <= 15
        elif case.kind == "after_death":
            deaths = [(d, p, death) for d, day in enumerate(city.days) for p, phase in enumerate(day.phases)
                      for death in phase.deaths if death.person == case.persons[0]]  # fmt: skip
            assert len(deaths) == 1
            d, p, death = deaths[0]
            assert death.death_date < _begin(claims[0])
            assert (d, p) > played[case.trigger][:2]  # recorded after the claim was settled
        elif case.kind == "trace_code_reuse":
            original, again = claims
            codes = {code for line in original.body["feedetail"] for code in line.get("drug_trac_codg", [])}
            assert codes & {
                code for line in again.body["feedetail"] for code in line.get("drug_trac_codg", [])
            }
            assert original.fixmedins_code != again.fixmedins_code
        elif case.kind == "cost_outlier":
            (outlier,) = claims
            at = played[outlier.medins_setl_id][:2]
            level = {r["fixmedins_code"] for r in city.institutions if r["hosp_lv"] == OUTLIER_LEVEL}
            peers = [
                _medfee(c) for d, p, c in _played(city)
                if (d, p) < at and c.body["med_type"] == "21" and c.body["dise_codg"].startswith(OUTLIER_CATEGORY)
                and c.fixmedins_code in level
            ]  # fmt: skip
            assert len(peers) >= MIN_PEERS
            assert _medfee(outlier) > 3 * sum(peers) / len(peers)
        elif case.kind == "bed_hold":
            (held,) = claims
            assert held.body["med_type"] == "21" and len(_empty_days(held)) >= 2
        elif case.kind == "trace_code_sold":
            (visit,) = claims
            sold = {
                code: (d, p, batch.fixmedins_code)
                for d, day in enumerate(city.days) for p, phase in enumerate(day.phases) for batch in phase.sales
                for line in batch.body["sales"] for code in line["drug_trac_codg"]
            }  # fmt: skip
            carried = [code for line in visit.body["feedetail"] for code in line.get("drug_trac_codg", [])]
            (reused,) = [code for code in carried if code in sold]
            assert sold[reused][:2] < played[visit.medins_setl_id][:2]  # sold in an earlier phase
            assert sold[reused][2] in city.pharmacies and visit.fixmedins_code in city.hospitals
        elif case.family in INSTITUTION_FAMILIES:
            assert case.trigger is None and case.fixmedins_code in city.hospitals
            assert {c.fixmedins_code for c in claims} == {case.fixmedins_code}
            assert {c.body["med_type"] for c in claims} == {"21"}
    for entry in truth["cases"]:
        assert entry["psn_nos"] == [f"N{key}" for key in entry["persons"]]
        assert entry["family"] in {"admission_frequency", "split_admission", "cost_outlier", "trace_code_reuse",
                                   "after_death", "price_index", "bed_hold", "induced_admission",
                                   "institution_outlier", "upcoding"}  # fmt: skip
        assert entry["level"] == ("institution" if entry["family"] in INSTITUTION_FAMILIES else "claim")


def test_overpriced_pharmacies_sell_every_drug_far_above_the_usual_price_after_the_others(city: City) -> None:
    usual: dict[str, Counter[str]] = defaultdict(Counter)
    prices: dict[tuple[str, str], set[str]] = defaultdict(set)
    for d, day in enumerate(city.days):
        for p, phase in enumerate(day.phases):
            for batch in phase.sales:
                assert (p == 1) == (batch.fixmedins_code in city.overpriced)
                for line in batch.body["sales"]:
                    prices[batch.fixmedins_code, line["med_list_codg"]].add(line["finl_trns_pric"])
                    if batch.fixmedins_code not in city.overpriced:
                        usual[line["med_list_codg"]][line["finl_trns_pric"]] += 1
        assert d >= 0
    for code in city.overpriced:
        for drug in city.drugs:
            mode = Decimal(usual[drug["med_list_codg"]].most_common(1)[0][0])
            (price,) = prices[code, drug["med_list_codg"]]
            assert Decimal(price) / mode > Decimal("1.30")  # red: the difference ratio is above 0.30


def test_normal_traffic_stays_clear_of_every_default_rule(city: City) -> None:
    planted = {person for case in city.cases for person in case.persons}
    admissions: Counter[str] = Counter()
    billed: Counter[tuple[str, str, str]] = Counter()
    codes: Counter[str] = Counter()
    burden: Counter[str] = Counter()
    persons = {person.key: person for person in city.persons}
    limits = {row["med_list_codg"]: row for row in city.catalog}
    for _, _, claim in _played(city):
        person = persons[claim.person]
        burden[claim.person] += int(_medfee(claim))
        if claim.body["med_type"] == "21":
            admissions[claim.person] += 1
        for line in claim.body["feedetail"]:
            billed[claim.person, line["med_list_codg"], line["fee_ocur_time"][:10]] += 1
            codes.update(line.get("drug_trac_codg", []))
            limit: dict[str, Any] = limits[line["med_list_codg"]]
            assert limit.get("gend_lmt") in (None, person.person["gend"])
            if "max_cnt_per_visit" in limit:
                assert Decimal(line["cnt"]) <= Decimal(limit["max_cnt_per_visit"])
    for day in city.days:
        for phase in day.phases:
            for batch in phase.sales:
                codes.update(code for line in batch.body["sales"] for code in line["drug_trac_codg"])
    assert {key for key, n in admissions.items() if n > 1} <= planted
    assert max(billed.values()) == 1  # no item twice for a person on a day
    assert sorted(code for code, n in codes.items() if n > 1) == sorted(
        code
        for case in city.cases
        if case.kind in ("trace_code_reuse", "trace_code_sold")
        for code in _reused(city, case.medins_setl_ids)
    )
    assert max(burden.values()) < 50_000  # the high-burden rule (50,000 a year) stays quiet
    deaths = {death.person for day in city.days for phase in day.phases for death in phase.deaths}
    assert deaths <= planted
    assert all(day.business_date == START + timedelta(days=n) for n, day in enumerate(city.days))


def _reused(city: City, medins_setl_ids: tuple[str, ...]) -> list[str]:
    """The codes a reuse case uses twice: in its two claims, or sold at POS and in its one claim."""
    claims = {claim.medins_setl_id: claim for claim in city.claims()}
    if len(medins_setl_ids) == 1:
        sold = {
            code
            for day in city.days
            for phase in day.phases
            for batch in phase.sales
            for line in batch.body["sales"]
            for code in line["drug_trac_codg"]
        }
        (claim,) = (claims[m] for m in medins_setl_ids)
        return sorted({c for line in claim.body["feedetail"] for c in line.get("drug_trac_codg", [])} & sold)
    first, second = (claims[m] for m in medins_setl_ids)
    return sorted(
        {c for line in first.body["feedetail"] for c in line.get("drug_trac_codg", [])}
        & {c for line in second.body["feedetail"] for c in line.get("drug_trac_codg", [])}
    )


# --- the supervision families: bed hold, institution-level rules, practitioners -----------------------------


def _empty_days(claim: ClaimSpec) -> list[date]:
    """The bed_hold rule's view of a stay: days of [admission, discharge) with no bed, nursing or treatment
    charge (CARE_PREFIXES, a line counting for its fee date only)."""
    charged = {
        line["fee_ocur_time"][:10]
        for line in claim.body["feedetail"]
        if line["med_list_codg"].upper().startswith(CARE_PREFIXES)
    }
    begin, end = _begin(claim), _end(claim)
    return [
        begin + timedelta(days=n)
        for n in range((end - begin).days)
        if (begin + timedelta(days=n)).isoformat() not in charged
    ]


def _params(city: City, family: str) -> dict[str, ParamValue]:
    """A family's defaults as shipped, with what the city asks the bureau to set (city.rule_params)."""
    params: dict[str, ParamValue] = {spec.name: spec.default for spec in FAMILIES[family].params}
    params.update(city.rule_params.get(family, {}))
    return params


def _institution_months(city: City, family: str) -> list[InstitutionMonth]:
    """Each institution's month as fraud's institution rules see it, from the claims that stand (a blocked
    claim is refused), with the DRG severity settlement's grouper gives each points case."""
    params = _params(city, family)
    drug_prefixes = params.get("drug_prefixes", ())
    severities = params.get("severities", ())
    assert isinstance(drug_prefixes, tuple) and isinstance(severities, tuple)
    high = {s.upper() for s in severities}
    _, drg, dip = _groupers(city)
    level = {row["fixmedins_code"]: row["hosp_lv"] for row in city.institutions}
    by_points = {row["fixmedins_code"] for row in city.institutions if row.get("points_payment")}
    blocked = {case.trigger for case in city.cases if case.expect == "blocked"}
    figures: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    admissions: dict[str, list[Admission]] = defaultdict(list)
    persons: dict[str, set[str]] = defaultdict(set)
    for d, _, claim in _played(city):
        if claim.medins_setl_id in blocked:
            continue
        code, medfee = claim.fixmedins_code, int(_medfee(claim) * 100)
        own = figures[code]
        own["settlements"] += 1
        own["medfee_fen"] += medfee
        own["drug_fen"] += sum(
            yuan_to_fen(line["det_item_fee_sumamt"])
            for line in claim.body["feedetail"]
            if line["med_list_codg"].startswith(drug_prefixes)
        )
        if claim.body["med_type"] != "21":
            continue
        own["admissions"] += 1
        own["inpatient_medfee_fen"] += medfee
        persons[code].add(claim.person)
        admissions[code].append(
            Admission(claim.medins_setl_id, claim.person, claim.body["dise_codg"], _begin(claim), _end(claim),
                      city.day_dates[d], medfee, 0)
        )  # fmt: skip
        if code in by_points:
            own["grouped_cases"] += 1
            if claim.body["insutype"] == "310":
                severity = drg.group(_coding(claim)).severity or "none"
                own["high_severity_cases"] += severity.upper() in high
            else:
                assert dip.group(_coding(claim)) is not None  # DIP cases carry no severity
    built = {
        code: InstitutionFigures(fixmedins_code=code, hosp_lv=level[code], inpatients=len(persons[code]), **values)
        for code, values in figures.items()
    }  # fmt: skip
    return [
        InstitutionMonth(
            month=city.day_dates[0].strftime("%Y-%m"),
            own=own,
            admissions=tuple(admissions[code]),
            peers=tuple(
                p
                for other, p in built.items()
                if other != code and own.hosp_lv is not None and p.hosp_lv == own.hosp_lv
            ),
        )
        for code, own in built.items()
    ]


def _institution_hits(city: City, family: str) -> dict[str, list[str]]:
    check = FAMILIES[family].month_check
    assert check is not None
    params = _params(city, family)
    found: dict[str, list[str]] = {}
    for month in _institution_months(city, family):
        hits = check(month, params)
        if hits:
            found[month.own.fixmedins_code] = [hit.message for hit in hits]
    return found


@pytest.mark.parametrize(
    ("seed", "persons", "days", "start"),
    [(11, 1200, 3, START), (5, 200, 2, date(2026, 3, 30)), (1, 2000, 3, date(2026, 3, 29))],
    ids=["test-city", "demo-test", "demo-default"],
)
def test_the_supervision_families_flag_the_planted_cases_and_nothing_else(
    seed: int, persons: int, days: int, start: date
) -> None:
    """bed_hold on the stays, the institution-level rules (as the bureau sets them for the city) on each
    institution's month: exactly the planted ones, at the cities the tests and `make demo` play."""
    city = city_of(seed, persons, days, start)
    planted: dict[str, set[str]] = defaultdict(set)
    for case in city.cases:
        planted[case.family].add(str(case.trigger if case.family == "bed_hold" else case.fixmedins_code))
    min_days = _params(city, "bed_hold")["min_days"]
    assert isinstance(min_days, int)
    inpatient = [claim for claim in city.claims() if claim.body["med_type"] == "21"]
    held = {claim.medins_setl_id for claim in inpatient if len(_empty_days(claim)) >= min_days}
    assert held == planted["bed_hold"] and len(held) == max(1, persons // 1000)
    # Every stay is judged (it bills care codes), the normal ones with no empty day at all.
    assert all(_empty_days(claim) == [] for claim in inpatient if claim.medins_setl_id not in held)
    for family in sorted(INSTITUTION_FAMILIES):
        hits = _institution_hits(city, family)
        assert set(hits) == planted[family], (family, hits)
    # The institution outlier is flagged for its cost per case only.
    (outlier,) = _institution_hits(city, "institution_outlier").values()
    assert len(outlier) == 1 and "cost per inpatient case" in outlier[0]


def city_of(seed: int, persons: int, days: int, start: date) -> City:
    return generate_city(seed, persons, days=days, start=start)


def test_practitioners_order_the_lines_and_two_doctors_reach_8_and_12_points(city: City) -> None:
    registered = {p.prac_codg: p for p in city.practitioners}
    assert len(registered) == len(city.practitioners)
    for practitioner in city.practitioners:
        PractitionerIn.model_validate(practitioner.body())
    assert {p.prac_type for p in city.practitioners} == {"doctor", "pharmacist"}
    for claim in city.claims():
        pharmacy = claim.body["med_type"] == "41"
        field, other = ("phar_prac_codg", "bilg_dr_codg") if pharmacy else ("bilg_dr_codg", "phar_prac_codg")
        codes = {line.get(field) for line in claim.body["feedetail"]}
        assert len(codes) == 1 and all(other not in line for line in claim.body["feedetail"])
        (code,) = codes
        assert registered[code].fixmedins_code == claim.fixmedins_code
        assert registered[code].prac_type == ("pharmacist" if pharmacy else "doctor")
    points = city.practitioner_points()
    assert sorted(points.values()) == [8, 12]  # 12 ends the qualification (终止); 8 is one short of 9 (暂停)
    (suspended,) = city.expected_suspended()
    assert points[suspended] == 12
    decided = [case for case in city.cases if case.practitioner]
    assert {case.resolution for case in decided} == {"decide"}
    claims = {claim.medins_setl_id: claim for claim in city.claims()}
    for case in decided:  # the doctor ordered every claim of the pattern
        assert {
            line["bilg_dr_codg"] for m in case.medins_setl_ids for line in claims[m].body["feedetail"]
        } == {case.practitioner}
    resolutions = Counter(case.resolution for case in city.cases if case.expect == "finding")
    assert resolutions["appeal_upheld"] == resolutions["appeal_overturned"] == 1
    assert resolutions["refund"] >= 2 and resolutions["decide"] == 4
    # A refund with something to recover in the played month: the cost outlier's (an inpatient stay).
    assert next(case for case in city.cases if case.kind == "cost_outlier").resolution == "refund"
    assert all(case.resolution is None for case in city.cases if case.expect != "finding")
    # The claim sent after the suspension: doctor A's, at A's hospital, never played.
    after = city.suspended_claim
    assert after is not None and after.prac_codg == suspended
    assert after.claim.medins_setl_id not in claims
    assert after.claim.fixmedins_code == registered[suspended].fixmedins_code
    assert {line["bilg_dr_codg"] for line in after.claim.body["feedetail"]} == {suspended}
    OneCallSettlementIn.model_validate({**after.claim.body, "psn_no": "P" + after.claim.person})
    planted_persons = {person for case in city.cases for person in case.persons}
    played_persons = {claim.person for claim in city.claims()}
    assert after.claim.person not in planted_persons | played_persons


# --- payment by points ------------------------------------------------------------------------------------


def _coding(claim: ClaimSpec) -> CaseCoding:
    """What settlement groups the case on: its list, else the visit's diagnosis and no procedure."""
    listed = claim.settlement_list
    if listed is None:
        return CaseCoding(claim.body["dise_codg"])
    main = next(row["dise_codg"] for row in listed["diagnoses"] if row["main"])
    secondary = tuple(row["dise_codg"] for row in listed["diagnoses"] if not row["main"])
    procedures = tuple(Procedure(row["oprn_codg"], row["main"]) for row in listed["procedures"])
    return CaseCoding(main, secondary, procedures, from_list=True)


def _groupers(city: City) -> tuple[dict[str, Group], DrgGrouper, DipGrouper]:
    assert city.points is not None
    groups = {
        row["group_code"]: Group(row["group_code"], row["group_name"], Decimal(row["points"]),
                                 yuan_to_fen(row["avg_cost"]))
        for row in city.points.groups
    }  # fmt: skip
    drg = DrgGrouper(
        [Adrg(r["adrg"], tuple(r["dise_prefixes"]), frozenset(r["oprn_codes"]), r["priority"])
         for r in city.points.adrgs],
        {row["dise_prefix"]: row["level"] for row in city.points.complications},
        groups,
    )  # fmt: skip
    dip = DipGrouper(
        (row["dise_prefix"], row.get("oprn_code"), row["group_code"]) for row in city.points.dip_rows
    )
    return groups, drg, dip


def test_the_points_reference_fits_settlements_request_models_and_every_path_leads_to_a_group(
    city: City,
) -> None:
    points = city.points
    assert points is not None and points.year == START.year
    years = [PaymentYearRow.model_validate(row) for row in points.payment_years]
    assert {(y.insutype.value, y.method.value) for y in years} == {("310", "drg"), ("390", "dip")}
    groups = {GroupRow.model_validate(row).group_code: row for row in points.groups}
    rows = [DipRowRow.model_validate(row) for row in points.dip_rows]
    adrgs = [AdrgRow.model_validate(row) for row in points.adrgs]
    complications = [ComplicationRow.model_validate(row) for row in points.complications]
    assert {c.level.value for c in complications} == {"mcc", "cc"}
    assert len({(row.dise_prefix, row.oprn_code) for row in rows}) == len(rows)
    assert {row.oprn_code is None for row in rows} == {True, False}  # conservative and procedure rows
    assert {bool(a.oprn_codes) for a in adrgs} == {True, False}  # surgical and medical ADRGs
    # Every group a DIP row or an ADRG (with any severity, after the grouper's fallback) leads to exists,
    # and every group is reached by one or the other.
    reached = {row.group_code for row in rows}
    for adrg in adrgs:
        for wanted in (("1", "3", "5", "9"), ("3", "5", "9"), ("5", "9")):
            found = next((adrg.adrg + suffix for suffix in wanted if adrg.adrg + suffix in groups), None)
            assert found is not None, (adrg.adrg, wanted)
            reached.add(found)
    assert reached <= set(groups)
    drg_groups = {a.adrg + suffix for a in adrgs for suffix in "1359"}
    assert set(groups) - reached - drg_groups == set()  # no group that nothing leads to
    # avg_cost and points agree (1 point per 100 yuan of a group's mean cost), every group dearer than a day.
    for row in groups.values():
        assert Decimal(row["points"]) == (Decimal(row["avg_cost"]) / 100).quantize(Decimal("0.0001"))
        assert Decimal(row["avg_cost"]) > 1000
    hospitals = {r["fixmedins_code"]: r for r in city.institutions if r["fixmedins_type"] == "hospital"}
    by_points = {code for code, row in hospitals.items() if row["points_payment"]}
    assert len(by_points) >= len(hospitals) - len(hospitals) // 8 and by_points != set()
    assert 1 <= sum(1 for row in hospitals.values() if "points_coefficient" in row) <= 2
    assert not any(r.get("points_payment") for r in city.institutions if r["fixmedins_type"] == "pharmacy")
    scores = [QualityScoreRow.model_validate(row) for row in points.quality_scores]
    assert scores and {s.fixmedins_code for s in scores} <= by_points
    assert all(Decimal("0.8") <= s.score < 1 for s in scores)


def test_the_budgets_are_95_percent_of_what_the_played_cases_are_expected_to_cost_the_pools(
    city: City,
) -> None:
    points = city.points
    assert points is not None
    inpatient = {
        insutype: [c for c in city.claims() if c.body["med_type"] == "21" and c.body["insutype"] == insutype]
        for insutype in ("310", "390")
    }
    for row in points.payment_years:
        estimated = points.estimated_hifp_fen[row["insutype"]]
        medfee = sum(_medfee(claim) for claim in inpatient[row["insutype"]])
        assert 0 < estimated < medfee * 100  # the pool pays part of what the cases cost
        share = Decimal(points.budget_share)
        assert yuan_to_fen(row["budget"]) == round(share * estimated / 100) * 100
        assert row["coefficient_lv3"] == "1.50" and row["coefficient_lv1"] == "0.80"


def test_inpatient_claims_carry_settlement_lists_with_one_main_diagnosis_under_the_visits(city: City) -> None:
    claims = city.claims()
    assert all(claim.settlement_list is None for claim in claims if claim.body["med_type"] != "21")
    inpatient = [claim for claim in claims if claim.body["med_type"] == "21"]
    listed = [claim for claim in inpatient if claim.settlement_list is not None]
    assert (
        0 < len(inpatient) - len(listed) < len(inpatient) // 4
    )  # a few are grouped on the visit's diagnosis
    assert Counter(claim.list_via for claim in listed).keys() == {"rest", "4101A"}
    complications = (
        {row["dise_prefix"]: row["level"] for row in city.points.complications} if city.points else {}
    )
    levels: Counter[str] = Counter()
    for claim in listed:
        body = SettlementListIn.model_validate(claim.settlement_list)
        mains = [d for d in body.diagnoses if d.main]
        assert len(mains) == 1
        assert mains[0].dise_codg.startswith(claim.body["dise_codg"])  # the visit's code or a finer one
        codes = [d.dise_codg for d in body.diagnoses]
        assert len(set(codes)) == len(codes) <= 4
        assert all(code[:3] != claim.body["dise_codg"][:3] for code in codes[1:])
        for code in codes[1:]:
            levels[next((complications[p] for p in complications if code.startswith(p)), "none")] += 1
        assert len(body.procedures) <= 2
        if body.procedures:
            assert sum(1 for p in body.procedures if p.main) == 1 and body.procedures[0].main
            begin, end = _begin(claim), _end(claim)
            assert all(p.oprn_date is not None and begin <= p.oprn_date <= end for p in body.procedures)
    assert levels["mcc"] > 0 and levels["cc"] > levels["mcc"] and levels["none"] > 0
    assert any(claim.settlement_list and claim.settlement_list["procedures"] for claim in listed)


def test_most_cases_group_normally_some_deviate_and_only_syncope_is_left_ungrouped(city: City) -> None:
    groups, drg, dip = _groupers(city)
    parameters = YearParameters()  # the default ratios (low 0.4, high 2.0) the payment years keep
    by_points = {r["fixmedins_code"] for r in city.institutions if r.get("points_payment")}
    deviations: Counter[tuple[str, str]] = Counter()
    for claim in city.claims():
        if claim.body["med_type"] != "21" or claim.fixmedins_code not in by_points:
            continue
        grouper = drg if claim.body["insutype"] == "310" else dip
        grouped = grouper.group(_coding(claim))
        if claim.body["dise_codg"].startswith("R55"):
            assert grouped.group_code is None, grouped
        else:
            assert grouped.group_code in groups, (claim.settlement_list, grouped.why)
        case = case_points(
            medfee_fen=int(_medfee(claim) * 100),
            group=groups.get(grouped.group_code or ""),
            coefficient=Decimal(1),
            parameters=parameters,
        )
        deviations[claim.body["insutype"], case.deviation.value] += 1
    total = sum(deviations.values())
    normal = sum(n for (_, kind), n in deviations.items() if kind == Deviation.NORMAL)
    assert normal >= 0.8 * total
    for kind in (Deviation.LOW, Deviation.HIGH, Deviation.UNGROUPED):
        assert sum(n for (_, k), n in deviations.items() if k == kind) >= 1, (kind, deviations)
    assert {insutype for insutype, _ in deviations} == {"310", "390"}


def test_drugs_need_traceability_codes_and_level_1_hospitals_scan_some_lines_only(city: City) -> None:
    needing = {row["med_list_codg"] for row in city.catalog if row.get("trac_codg_required")}
    assert needing == {row["med_list_codg"] for row in city.drugs}
    level = {row["fixmedins_code"]: row["hosp_lv"] for row in city.institutions}
    scanned: dict[int | None, Counter[bool]] = defaultdict(Counter)
    for claim in city.claims():
        for line in claim.body["feedetail"]:
            if line["med_list_codg"] in needing:
                scanned[level[claim.fixmedins_code]][bool(line.get("drug_trac_codg"))] += 1
    assert scanned[None][False] == 0 and scanned[2][False] == scanned[3][False] == 0  # pharmacies, levels 2–3
    share = scanned[1][True] / (scanned[1][True] + scanned[1][False])
    assert 0.7 < share < 0.9  # a fifth missed at level 1
