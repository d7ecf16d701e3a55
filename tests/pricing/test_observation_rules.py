"""The rules of a price observation without a database: each line's kind, the newest prices, a sale's light."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pricing.domain.light import Light, Thresholds
from pricing.domain.observations import Kind, LineKind, SaleLine, classify, newest_prices, observe

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def sale(sale_id: str, price: str = "10.00", *, drug: str = "D1", at: datetime = NOW) -> SaleLine:
    return SaleLine(sale_id, drug, Decimal(price), Decimal("2"), at)


def test_a_new_line_of_a_known_drug_is_fresh() -> None:
    found = classify([sale("S1")], stored={}, known_drugs={"D1"}, now=NOW)
    assert found.kinds == [LineKind(Kind.FRESH)]
    assert [(item.position, item.line.sale_id) for item in found.fresh] == [(0, "S1")]


def test_a_line_stored_before_with_the_same_content_is_a_replay() -> None:
    line = sale("S1")
    found = classify([line], stored={"S1": line.fingerprint()}, known_drugs={"D1"}, now=NOW)
    assert (found.kinds, found.fresh) == ([LineKind(Kind.REPLAY)], [])


def test_a_stored_sale_id_with_other_content_is_a_conflict() -> None:
    found = classify(
        [sale("S1", "11.00")], stored={"S1": sale("S1").fingerprint()}, known_drugs={"D1"}, now=NOW
    )
    assert found.kinds[0].kind is Kind.REJECTED
    assert found.kinds[0].reason == "SALE_ID_CONFLICT"
    assert found.fresh == []


def test_the_same_line_twice_in_an_upload_repeats_the_first() -> None:
    found = classify([sale("S1"), sale("S2"), sale("S1")], stored={}, known_drugs={"D1"}, now=NOW)
    assert found.kinds == [LineKind(Kind.FRESH), LineKind(Kind.FRESH), LineKind(Kind.REPEAT, first=0)]
    assert [item.position for item in found.fresh] == [0, 1]


def test_a_sale_id_twice_in_an_upload_with_other_content_names_the_first_line() -> None:
    found = classify([sale("S1"), sale("S1", "12.00")], stored={}, known_drugs={"D1"}, now=NOW)
    assert found.kinds[1] == LineKind(
        Kind.REJECTED,
        reason="SALE_ID_CONFLICT",
        message="This sale_id is also on line 1 with different content.",
    )


def test_an_unknown_drug_is_refused() -> None:
    found = classify([sale("S1", drug="NOPE")], stored={}, known_drugs={"D1"}, now=NOW)
    assert found.kinds == [
        LineKind(Kind.REJECTED, reason="DRUG_NOT_FOUND", message="No drug NOPE in the reference data.")
    ]


def test_a_pos_clock_five_minutes_ahead_is_a_clock_but_six_is_the_future() -> None:
    ahead = classify(
        [sale("S1", at=NOW + timedelta(minutes=5)), sale("S2", at=NOW + timedelta(minutes=6))],
        stored={},
        known_drugs={"D1"},
        now=NOW,
    )
    assert ahead.kinds[0] == LineKind(Kind.FRESH)
    assert ahead.kinds[1].reason == "SEL_TIME_IN_FUTURE"


def test_the_newest_sale_of_each_drug_sets_its_latest_price_whatever_the_upload_order() -> None:
    earlier, later = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    found = classify(
        [sale("S1", "12.00", at=later), sale("S2", "9.50", at=earlier), sale("S3", "3.00", drug="D2")],
        stored={},
        known_drugs={"D1", "D2"},
        now=NOW,
    )
    assert newest_prices(found.fresh) == {"D1": (12_000_000, later), "D2": (3_000_000, NOW)}


def test_a_sale_is_measured_against_the_reference() -> None:
    seen = observe(
        sale("S1", "13.00"), reference_micro=10_000_000, procurement_micro=None, thresholds=Thresholds()
    )
    assert (seen.price_micro, seen.reference_micro, seen.verdict.light) == (
        13_000_000,
        10_000_000,
        Light.YELLOW,
    )


def test_a_sale_without_a_reference_is_measured_against_itself() -> None:
    seen = observe(sale("S1", "13.00"), reference_micro=None, procurement_micro=None, thresholds=Thresholds())
    assert (seen.reference_micro, seen.verdict.light, seen.verdict.diff_ratio) == (
        13_000_000,
        Light.GREEN,
        Decimal("0.0000"),
    )


def test_a_price_above_the_procurement_limit_is_red_whatever_the_reference() -> None:
    seen = observe(
        sale("S1", "8.00"), reference_micro=8_000_000, procurement_micro=5_000_000, thresholds=Thresholds()
    )
    assert (seen.verdict.light, seen.verdict.over_procurement) == (Light.RED, True)
