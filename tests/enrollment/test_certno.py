"""The resident identity number: checksum, derived birth date and gender, masking."""

from datetime import date

import pytest

from enrollment.domain.certno import CertnoError, check_char, mask_certno, mask_tel, parse_certno

TODAY = date(2026, 3, 2)


def test_a_valid_certno_gives_its_birth_date_gender_and_region() -> None:
    parsed = parse_certno("11010519491231002X", today=TODAY)
    assert (parsed.birth_date, parsed.gend, parsed.admdvs) == (date(1949, 12, 31), "2", "110105")
    male = parse_certno("420102199003071259", today=TODAY)
    assert (male.birth_date, male.gend) == (date(1990, 3, 7), "1")


def test_a_lowercase_x_is_accepted_as_the_check_character() -> None:
    assert parse_certno("11010519491231002x", today=TODAY).value == "11010519491231002X"


def test_the_check_character_follows_iso_7064_mod_11_2() -> None:
    assert check_char("11010519491231002") == "X"
    assert check_char("42010219900307125") == "9"


@pytest.mark.parametrize(
    ("certno", "why"),
    [
        ("110105194912310021", "checksum"),
        ("42010219900307125", "18 characters"),
        ("4201021990030712590", "18 characters"),
        ("42010219900307125A", "18 characters"),
        ("420102199002301250", "impossible birth date"),  # 30 February (checksum is right)
        ("420102189912311231", "out of range"),
        ("420102202703021234", "out of range"),  # born after today
    ],
)
def test_an_invalid_certno_is_refused_with_the_reason(certno: str, why: str) -> None:
    if why in ("impossible birth date", "out of range"):
        certno = certno[:17] + check_char(certno[:17])
    with pytest.raises(CertnoError, match=why):
        parse_certno(certno, today=TODAY)


def test_masks_keep_only_what_identifies_nobody() -> None:
    assert mask_certno("420102199003071259") == "420102********1259"
    assert mask_tel("13812345678") == "138****5678"
    assert mask_tel(None) is None
