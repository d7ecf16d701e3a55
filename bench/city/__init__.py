"""A synthetic city (seeded, reproducible) for the demo and the benchmarks, loaded and played through the gateway.

Interface (stable; the demo and `make bench` import it):

    from bench.city import generate_city, load_city, play_day, City, LoadedCity, DayOutcome

    city = generate_city(seed, persons, days=3, start=date(2026, 3, 27))      # pure (no I/O but a bar)
    city.to_json() -> bytes                       # canonical: same seed and arguments ⇒ the same bytes
    loaded = await load_city(city, gateway_url, ops_key, progress=True)       # -> LoadedCity
    outcome = await play_day(city, loaded, day_index, progress=True)          # -> DayOutcome
    city.ground_truth(loaded.psn_no) -> dict      # the planted cases, with psn_no filled in once loaded

`generate_city(seed: int, persons: int, *, days: int = 3, start: date = DEFAULT_START,
claim_rate: float = 0.25, sales_per_pharmacy_day: int = 12, progress: bool = False) -> City`
    `start` is the first played business day (Asia/Shanghai); the days are start .. start + days - 1.
    `claim_rate`: expected claims per person per day of normal traffic.

`City` (frozen dataclass):
    seed, start: date, day_dates: tuple[date, ...], admdvs: str
    institutions: tuple[dict, ...]     rows of POST /settlement/institutions/bulk {"institutions": [...]}
    catalog: tuple[dict, ...]          rows of POST /settlement/catalog/bulk {"items": [...]}
    drugs: tuple[dict, ...]            rows of POST /pricing/drugs/bulk {"drugs": [...]}
    persons: tuple[PersonSpec, ...]    key (stable local id "C0000001"), person (POST /enrollment/persons:bulk row),
                                       coverage (POST /enrollment/persons/{psn_no}/coverages body),
                                       contributions (bodies of POST .../contributions), kind (employee | retiree
                                       | resident), assistance, waiting (True: waiting period on every played day)
    families: tuple[FamilySpec, ...]   holder key and member keys (POST /enrollment/families)
    days: tuple[DayPlan, ...]          per played day, phases in order; a phase holds
                                       claims: ClaimSpec (person key, fixmedins_code, body of POST
                                       /settlement/settlements without psn_no), sales: SaleBatch (fixmedins_code, body
                                       of POST /pricing/sales), deaths: DeathSpec (person key, death_date)
    cases: tuple[PlantedCase, ...]     kind, family, person keys, medins_setl_ids, fixmedins_code, expect, and
                                       how the bureau settles its finding: resolution (refund | decide |
                                       appeal_upheld | appeal_overturned), penalty_basis, penalty_multiple,
                                       practitioner and points (记分). Institution-level families
                                       (induced_admission, institution_outlier, upcoding) have no trigger: their
                                       finding names the institution (setl_id null)
    practitioners: tuple[Practitioner, ...]  doctors (bilg_dr_codg of the hospital lines) and pharmacists
                                       (phar_prac_codg of the pharmacy lines): rows of POST /fraud/practitioners
    suspended_claim: SuspendedClaim    the 12-point doctor's next visit (its times moved to the day it is sent)
    rule_params: {family: {param: value}}  what the bureau sets on the institution rules for the city's size
    hospitals / pharmacies: the codes; overpriced: the pharmacies that sell above the reference
    points: PointsReference            payment by points of the played year (employees 310 by DRG, residents
                                       390 by DIP): rows of the bulk endpoints for payment_years, groups,
                                       dip_rows, adrgs, complications and quality_scores, and per pool the
                                       basic pool's pay expected for the played cases (estimated_hifp_fen), of
                                       which each budget is budget_share (0.95)
    An inpatient ClaimSpec carries its 医保结算清单 (`settlement_list`, the body of PUT
    /settlement/settlements/{setl_id}/settlement-list, or None for a few plain cases) and `list_via`
    (rest | 4101A); institution rows carry points_payment (every hospital but one in eight) and, for a
    few, their own points_coefficient.

`LoadedCity` (dataclass):
    gateway_url, ops_key
    psn_no: dict[person key, psn_no]   as enrollment assigned them
    keys: dict[fixmedins_code, API key] one gateway client per hospital (role his) and pharmacy (role pos)
    public_key: str                     a key of role public
    counts: dict[str, int]              what was loaded (persons, coverages, contributions, families, ...)
    seconds: dict[str, float]           how long each step took
    settled, deaths, pricing_lines      running totals of what was played (what the consumers must catch up with)

`load_city(city, gateway_url, ops_key, *, progress=True, concurrency=16, projection_timeout_s=600.0)`
    Reference data in bulk (institutions, catalogue, drugs, then the points tables: payment years, groups,
    DIP rows, DRG ADRGs and CC/MCC list, quality scores), persons:bulk in chunks of 5,000, coverages,
    contributions and families concurrently, one API key per institution, then waits (metrics of the
    consumers, then GET /settlement/accounts/{psn_no} read-backs) until settlement has projected every
    enrollment event and pricing knows every pharmacy. 429 and 503 answers are retried.

`play_day(city, loaded, index, *, progress=True, concurrency=8, settle_timeout_s=120.0) -> DayOutcome`
    Plays the day's phases in order with each institution's own key; between phases it waits until fraud's
    projection and pricing have seen every settlement accepted so far (so the rules see the history).
    The services' clock must already stand on that day (the demo moves a simulated clock; see
    bench.city.simclock). Right after an inpatient settlement the hospital uploads its settlement list with
    its own key, by REST or as the national 4101A message. DayOutcome: accepted {medins_setl_id:
    AcceptedClaim}, refused {medins_setl_id: RefusedClaim}, sales_accepted, sales_rejected, lights
    {green/yellow/red: count}, deaths, lists {rest/4101A: count}.

`bench.city.supervision`: the demo's supervision steps (practitioners registered, cases opened and answered,
the month's institution rules and warnings, appeals reviewed, decisions with points, the suspended doctor's
claim refused, everything read back); see its module docstring for where each step goes.

`bench.city.stack.SimulatedStack(var_dir, at=...)`: common.devrun's DevStack on free ports in its own var dir,
every process on a simulated clock (`bench.city.simclock`) that `set_time` moves; `bench.city.score.score`:
precision and recall per rule family against the planted cases.
"""

from __future__ import annotations

from bench.city.generate import DEFAULT_START, generate_city
from bench.city.load import LoadedCity, load_city
from bench.city.model import (
    City,
    ClaimSpec,
    DayPlan,
    PersonSpec,
    PlantedCase,
    PointsReference,
    Practitioner,
    SuspendedClaim,
)
from bench.city.play import AcceptedClaim, DayOutcome, RefusedClaim, play_day, wait_for_consumers

__all__ = [
    "DEFAULT_START",
    "AcceptedClaim",
    "City",
    "ClaimSpec",
    "DayOutcome",
    "DayPlan",
    "LoadedCity",
    "PersonSpec",
    "PlantedCase",
    "PointsReference",
    "Practitioner",
    "RefusedClaim",
    "SuspendedClaim",
    "generate_city",
    "load_city",
    "play_day",
    "wait_for_consumers",
]
