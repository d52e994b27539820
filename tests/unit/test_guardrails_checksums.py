"""Luhn and IBAN mod-97 with the published test numbers (Stripe's and PayPal's test cards, the IBAN
examples of the SWIFT registry) and their edge cases."""

from __future__ import annotations

import pytest

from shared.guardrails.checksums import IBAN_LENGTHS, iban_ok, luhn_ok

# Stripe's documented test cards, then PayPal's sandbox test cards.
TEST_CARDS = [
    *("4242424242424242", "4000056655665556", "5555555555554444", "2223003122003222", "5200828282828210"),
    *("5105105105105100", "378282246310005", "371449635398431", "6011111111111117", "6011000990139424"),
    *("3056930009020004", "36227206271667", "3566002020360505", "6200000000000005"),
    *("4111111111111111", "4012888888881881", "378734493671000", "3530111333300000", "38520000023237"),
    "30569309025904",
]

# Example IBANs as the SWIFT IBAN registry and national banks publish them.
IBANS = (
    "GB82 WEST 1234 5698 7654 32",
    "DE89 3704 0044 0532 0130 00",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91 ABNA 0417 1643 00",
    "BE68 5390 0754 7034",
    "CH93 0076 2011 6238 5295 7",
    "ES91 2100 0418 4502 0005 1332",
    "IT60 X054 2811 1010 0000 0123 456",
    "NO93 8601 1117 947",
    "AT61 1904 3002 3457 3201",
    "SA03 8000 0000 6080 1016 7519",
    "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
    "PL61 1090 1014 0000 0712 1981 2874",
    "GR16 0110 1250 0000 0001 2300 695",
    "IE29 AIBK 9311 5212 3456 78",
    "PK36 SCBL 0000 0011 2345 6702",
    "AD12 0001 2030 2003 5910 0100",
    "BI42 1000 0100 0100 0033 2045 181",
    "BR18 0036 0305 0000 1000 9795 493C 1",
    "EG38 0019 0005 0000 0000 2631 8000 2",
    "CR05 0152 0200 1026 2840 66",
    "GB29 NWBK 6016 1331 9268 19",
    "HU42 1177 3016 1111 1018 0000 0000",
    "DO28 BAGR 0000 0001 2124 5361 1324",
)


@pytest.mark.parametrize("number", TEST_CARDS)
def test_published_test_cards_pass_luhn(number: str) -> None:
    assert luhn_ok(number)


@pytest.mark.parametrize("number", TEST_CARDS)
def test_changing_the_check_digit_fails_luhn(number: str) -> None:
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not luhn_ok(wrong)


def test_luhn_edge_cases() -> None:
    assert luhn_ok("0")  # the degenerate all-zero number passes the arithmetic
    assert luhn_ok("18")  # 1*2=2, 2+8=10
    assert luhn_ok("59")  # 5*2=10 -> 1, 1+9=10: the "subtract 9" step
    assert not luhn_ok("")
    assert not luhn_ok("4242 4242 4242 4242")  # callers strip separators first
    assert not luhn_ok("٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢")  # Arabic-Indic digits are not card numbers here
    # A transposition of two adjacent digits (other than 0/9) is caught.
    assert not luhn_ok("4242424242424224")


@pytest.mark.parametrize("iban", IBANS)
def test_published_ibans_pass(iban: str) -> None:
    assert iban_ok(iban.replace(" ", ""))


@pytest.mark.parametrize("iban", IBANS)
def test_a_changed_check_digit_fails(iban: str) -> None:
    compact = iban.replace(" ", "")
    wrong = compact[:2] + f"{(int(compact[2:4]) + 1) % 100:02d}" + compact[4:]
    assert not iban_ok(wrong)


def test_iban_edge_cases() -> None:
    assert not iban_ok("GB82WEST1234569876543")  # one character short of GB's 22
    assert not iban_ok("GB82WEST123456987654321")  # one too many
    assert not iban_ok("XX82WEST12345698765432")  # no such country
    assert not iban_ok("gb82west12345698765432")  # lower case is not the electronic format
    assert not iban_ok("GBAAWEST12345698765432")  # check digits must be digits
    assert not iban_ok("GB82 WEST 1234 5698 7654 32")  # spaces are stripped by the recognizer
    assert not iban_ok("DE89370400440532013001")
    assert IBAN_LENGTHS["NO"] == 15 and IBAN_LENGTHS["LC"] == 32 and IBAN_LENGTHS["RU"] == 33
