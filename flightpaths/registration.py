"""The US civil register's N-numbers and their ICAO addresses, offline.

The FAA assigns the block ``a00001``-``adf7c7`` one-to-one in N-number order (digits, then up to
two letters, skipping I and O). Shared by the simulator (its N-registered aircraft get their own
address) and the context step (a registration from the address).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["FIRST_US", "LAST_US", "icao_of_n_number", "n_number"]

_HEX = re.compile(r"^[0-9a-f]{6}$")
_LETTERS: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O
_DIGITS: Final = "0123456789"
FIRST_US: Final = 0xA00001
LAST_US: Final = 0xADF7C7
_SUFFIX: Final = 1 + len(_LETTERS) * (1 + len(_LETTERS))  # "", "A".."Z", "AA".."ZZ": 601
_B4: Final = 1 + len(_LETTERS) + len(_DIGITS)  # after four digits: nothing, a letter or a digit: 35
_B3: Final = len(_DIGITS) * _B4 + _SUFFIX  # 951
_B2: Final = len(_DIGITS) * _B3 + _SUFFIX  # 10111
_B1: Final = len(_DIGITS) * _B2 + _SUFFIX  # 101711


def _suffix(offset: int) -> str:
    if offset == 0:
        return ""
    first, rest = divmod(offset - 1, 1 + len(_LETTERS))
    return _LETTERS[first] + ("" if rest == 0 else _LETTERS[rest - 1])


def n_number(icao: str) -> str | None:
    """The US N-number an address in ``a00001``-``adf7c7`` belongs to (None otherwise).

    >>> n_number("a00001"), n_number("aa2183"), n_number("adf7c7"), n_number("3c6444")
    ('N1', 'N752AM', 'N99999', None)
    """
    text = str(icao).strip().lower()
    if not _HEX.match(text) or not FIRST_US <= int(text, 16) <= LAST_US:
        return None
    rest = int(text, 16) - FIRST_US
    digit, rest = divmod(rest, _B1)
    out = "N" + str(digit + 1)
    for bucket in (_B2, _B3):
        if rest < _SUFFIX:
            return out + _suffix(rest)
        digit, rest = divmod(rest - _SUFFIX, bucket)
        out += str(digit)
    if rest < _SUFFIX:
        return out + _suffix(rest)
    digit, rest = divmod(rest - _SUFFIX, _B4)
    out += str(digit)
    return out if rest == 0 else out + (_LETTERS + _DIGITS)[rest - 1]


_N_FORM = re.compile(r"^N[1-9][0-9]{0,4}[A-HJ-NP-Z]{0,2}$")


def icao_of_n_number(registration: str) -> str | None:
    """The address of a US N-number (None when it is not a valid one).

    >>> icao_of_n_number("N752AM"), icao_of_n_number("n1"), icao_of_n_number("G-ABCD")
    ('aa2183', 'a00001', None)
    """
    reg = str(registration).strip().upper()
    if not (_N_FORM.match(reg) and len(reg) <= 6):
        return None
    body = reg[1:]
    digits = len(body) - len(body.lstrip(_DIGITS))
    if digits < len(body) - 2 or (digits < 5 and len(body) - digits > 2):
        return None
    offset = _digits_offset(body[:digits])
    letters = body[digits:]
    if digits == 5:
        return None if letters else f"{FIRST_US + offset:06x}"
    if digits == 4 and len(letters) > 1:
        return None
    return f"{FIRST_US + offset + _letters_offset(letters, digits):06x}"


def _digits_offset(digits: str) -> int:
    """How far past the first US address the leading digits of an N-number (without the N) put it."""
    offset = (int(digits[0]) - 1) * _B1
    buckets = (_B2, _B3, _B4)
    for i, ch in enumerate(digits[1:], start=1):
        if i <= 2:
            offset += _SUFFIX + int(ch) * buckets[i - 1]
        elif i == 3:
            offset += _SUFFIX + int(ch) * _B4
        else:  # fifth digit
            offset += 1 + len(_LETTERS) + int(ch)
    return offset


def _letters_offset(letters: str, digits: int) -> int:
    """How far the letter suffix (one after four digits, up to two after fewer) moves the address."""
    if digits == 4:
        return (1 + _LETTERS.index(letters)) if letters else 0
    offset = 0
    if letters:
        offset += 1 + _LETTERS.index(letters[0]) * (1 + len(_LETTERS))
        if len(letters) == 2:
            offset += 1 + _LETTERS.index(letters[1])
    return offset
