"""The ICAO address by itself: country blocks, US N-numbers, id kinds."""

from __future__ import annotations

import pytest

from flightpaths.context.icao import ALLOCATIONS, countries, icao_of_n_number, id_kind, id_kinds, n_number

# Pairs printed side by side in public logs (the BuzzFeed 2016 convention files and others).
KNOWN = {
    "aa2183": "N752AM", "a94bbc": "N6987A", "a579ca": "N452CP", "a6684f": "N51159", "a94aea": "N6981A",
    "a94471": "N6968A", "ab8fb2": "N844LC", "a1336e": "N177CP", "a996cb": "N717HP",
    "a00001": "N1", "a00002": "N1A", "a00003": "N1AA", "a0001a": "N1AZ", "a0001b": "N1B", "adf7c7": "N99999",
}


@pytest.mark.parametrize(("hexid", "reg"), sorted(KNOWN.items()))
def test_n_number_matches_known_pairs_both_ways(hexid: str, reg: str) -> None:
    assert n_number(hexid) == reg
    assert icao_of_n_number(reg) == hexid


def test_every_us_address_round_trips() -> None:
    for address in range(0xA00001, 0xADF7C8, 97):
        hexid = f"{address:06x}"
        reg = n_number(hexid)
        assert reg is not None and reg.startswith("N") and len(reg) <= 6
        assert icao_of_n_number(reg) == hexid


@pytest.mark.parametrize("bad", ["N0", "N123456", "N1234AB", "NIOO", "G-ABCD", "", "N1I"])
def test_invalid_n_numbers_have_no_address(bad: str) -> None:
    assert icao_of_n_number(bad) is None


def test_addresses_outside_the_us_block_have_no_n_number() -> None:
    assert n_number("a00000") is None and n_number("adf7c8") is None and n_number("~aa2183") is None


@pytest.mark.parametrize(("hexid", "country"), [
    ("a1b2c3", "United States"), ("adf7c7", "United States"), ("3c6444", "Germany"), ("3ddc63", "Germany"),
    ("3f0000", "Germany"), ("400001", "United Kingdom"), ("43c000", "United Kingdom"), ("380000", "France"),
    ("39a000", "France"), ("c00001", "Canada"), ("c3ffff", "Canada"), ("7c1234", "Australia"),
    ("4b1234", "Switzerland"), ("e48000", "Brazil"), ("840123", "Japan"), ("780abc", "China"),
    ("000001", ""), ("ffffff", ""), ("501400", ""),
])
def test_country_of_registration_from_the_address_block(hexid: str, country: str) -> None:
    assert list(countries([hexid])) == [country]


def test_allocation_blocks_are_sorted_and_disjoint() -> None:
    for (a0, a1, _), (b0, _, _) in zip(ALLOCATIONS, ALLOCATIONS[1:]):
        assert a0 <= a1 < b0


def test_id_kinds() -> None:
    assert id_kind("aa2183") == "icao" and id_kind("~aa2183") == "non-icao"
    assert id_kind("aa2183", "tisb_icao") == "tis-b" and id_kind("~1234ab", "tisb_other") == "tis-b"
    assert id_kind("user7_session3") == "other"
    assert list(id_kinds(["aa2183", "~aa2183"], [None, float("nan")])) == ["icao", "non-icao"]
