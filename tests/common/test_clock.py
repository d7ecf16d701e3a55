"""The clock: business dates are Asia/Shanghai dates; tests move a frozen clock."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from common.clock import FrozenClock, business_date


def test_business_date_is_the_shanghai_calendar_date() -> None:
    # 15:59:59 UTC is 23:59:59 in Shanghai; one second later it is the next business day.
    assert business_date(datetime(2026, 3, 1, 15, 59, 59, tzinfo=UTC)) == date(2026, 3, 1)
    assert business_date(datetime(2026, 3, 1, 16, 0, 0, tzinfo=UTC)) == date(2026, 3, 2)
    assert business_date(datetime(2026, 3, 2, 0, 30, tzinfo=timezone(timedelta(hours=8)))) == date(2026, 3, 2)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        business_date(datetime(2026, 3, 1, 12, 0))
    with pytest.raises(ValueError, match="naive"):
        FrozenClock(datetime(2026, 3, 1, 12, 0))


def test_frozen_clock_stands_still_until_moved() -> None:
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert clock.now() == clock.now() == datetime(2026, 1, 1, tzinfo=UTC)
    assert clock.advance(days=1, hours=2) == datetime(2026, 1, 2, 2, tzinfo=UTC)
    clock.set(datetime(2025, 12, 31, tzinfo=UTC))
    assert clock.now() == datetime(2025, 12, 31, tzinfo=UTC)
