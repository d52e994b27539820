"""Each PII recognizer on positives and on look-alikes it must leave alone."""

from __future__ import annotations

import pytest

from shared.guardrails.recognizers import PII_KINDS, scan
from tests.unit.test_guardrails_checksums import IBANS, TEST_CARDS


def found(text: str) -> list[tuple[str, str]]:
    return [(f.kind, text[f.start : f.end]) for f in scan(text, PII_KINDS, secrets_on=True)]


def kinds(text: str) -> list[str]:
    return [kind for kind, _ in found(text)]


@pytest.mark.parametrize(
    "email",
    ["john.doe@example.com", "a+tag@sub.example.co.uk", "x_y-z%1@mail-server.io", "ME@EXAMPLE.ORG"],
)
def test_emails(email: str) -> None:
    assert found(f"write to {email}, please.") == [("email", email)]


@pytest.mark.parametrize(
    "text",
    [
        "user@localhost is not routable",
        "foo..bar@example.com",
        ".lead@example.com",
        "decorator @property in python",
        "git@ github",
        "price 5@3 each",
    ],
)
def test_not_emails(text: str) -> None:
    assert "email" not in kinds(text)


@pytest.mark.parametrize(
    "phone",
    [
        "+1 415 555 2671",
        "+14155552671",
        "+44 20 7946 0958",
        "+880 1712-345678",
        "+49 (30) 901820",
        "(415) 555-2671",
        "415-555-2671",
        "415.555.2671",
        "020 7946 0958",
        "01632 960001",
        "01712-345678",
        "01712345678",
    ],
)
def test_phones(phone: str) -> None:
    assert found(f"reach me on {phone} tonight") == [("phone", phone)]


def test_a_bare_number_is_a_phone_after_a_phone_word() -> None:
    assert found("my mobile: 5551234567") == [("phone", "5551234567")]
    assert found("call 9876543 after six") == [("phone", "9876543")]
    assert kinds("order 5551234567 shipped") == []


@pytest.mark.parametrize(
    "text",
    [
        "released on 2024-01-15 at 10:30",
        "dates 15/01/2024 and 01.02.2023",
        "invoice 1234567890 is due",
        "version 1.2.3.4.5 of the library",
        "revenue was 1,234,567 dollars",
        "ISBN 978-3-16-148410-0",
        "the range 1000-2000-3000 in the config",
        "pi is 3.14159265358979",
        "+5 points, +12 more",
    ],
)
def test_numbers_that_are_not_pii(text: str) -> None:
    assert kinds(text) == []


@pytest.mark.parametrize("number", TEST_CARDS)
@pytest.mark.parametrize("sep", ["", " ", "-"])
def test_cards(number: str, sep: str) -> None:
    grouped = sep.join([number[:4], number[4:8], number[8:12], number[12:]]) if sep else number
    assert found(f"card {grouped} exp 12/34") == [("card", grouped)]


@pytest.mark.parametrize(
    "text",
    [
        "card 4242424242424241",  # Luhn fails
        "card 4242-4242 4242-4242",  # mixed separators
        "id 1234567812345670",  # Luhn passes, but no issuer starts with 1
        "00000000000000000",
        "card 4242 4242 4242 4242 4242 4242",  # 24 digits: too long for a card
    ],
)
def test_not_cards(text: str) -> None:
    assert "card" not in kinds(text)


@pytest.mark.parametrize("iban", IBANS)
def test_ibans(iban: str) -> None:
    assert found(f"IBAN: {iban}. Thanks") == [("iban", iban)]
    compact = iban.replace(" ", "")
    assert found(f"to {compact} now") == [("iban", compact)]


@pytest.mark.parametrize(
    "text",
    ["GB82 WEST 1234 5698 7654 33", "DE89370400440532013001", "XX82WEST12345698765432", "ISO8601 DATE"],
)
def test_not_ibans(text: str) -> None:
    assert "iban" not in kinds(text)


@pytest.mark.parametrize("ssn", ["536-22-1234", "123-45-6789", "772 11 4567", "001-01-0001"])
def test_ssns(ssn: str) -> None:
    assert found(f"SSN on file {ssn}.") == [("ssn", ssn)]


@pytest.mark.parametrize(
    "ssn",
    [
        "000-12-3456",  # area 000 is never issued
        "666-12-3456",  # area 666 is never issued
        "900-12-3456",  # 900-999 are ITINs, not SSNs
        "987-65-4320",
        "123-00-4567",  # group 00
        "123-45-0000",  # serial 0000
        "078-05-1120",  # the Woolworth wallet number, voided by the SSA
        "219-09-9999",  # printed in a Social Security Board pamphlet, voided
        "123-45 6789",  # mixed separators
    ],
)
def test_invalid_ssns(ssn: str) -> None:
    assert "ssn" not in kinds(f"number {ssn}")


def test_bare_ssn_needs_the_word() -> None:
    assert found("my SSN is 536221234") == [("ssn", "536221234")]
    assert found("social security number: 536221234") == [("ssn", "536221234")]
    assert "ssn" not in kinds("ticket 536221234")


def test_bangladesh_nid() -> None:
    # 17 digits: birth year 1990, district 26 (Dhaka), then the rest: structure enough on its own.
    assert found("id 19902694123456789 ok") == [("bd_nid", "19902694123456789")]
    # 13 and 10 digits need a context word.
    assert found("My NID: 2612345678901") == [("bd_nid", "2612345678901")]
    assert found("national id number 1234567890") == [("bd_nid", "1234567890")]
    assert found("NID no. 5512 3456 7890 1") == [("bd_nid", "5512 3456 7890 1")]
    # Bengali script and digits.
    assert found("জাতীয় পরিচয়পত্র নম্বর: ১৯৯০২৬৯৪১২৩৪৫৬৭৮৯") == [("bd_nid", "১৯৯০২৬৯৪১২৩৪৫৬৭৮৯")]


@pytest.mark.parametrize(
    "text",
    [
        "order 2612345678901 shipped",  # 13 digits without a context word
        "ref 1234567890 please",  # 10 digits without a context word
        "id 18002694123456789",  # 17 digits, year 1800
        "id 19900294123456789",  # 17 digits, district 02 does not exist
        "NID: 0212345678901",  # 13 digits with the word, but district 02 does not exist
        "NID 12345678",  # too short
    ],
)
def test_not_bangladesh_nids(text: str) -> None:
    assert "bd_nid" not in kinds(text)


@pytest.mark.parametrize(
    "ip",
    ["192.168.1.1", "8.8.8.8", "255.255.255.255", "0.0.0.0", "2001:db8::ff00:42:8329", "::1", "fe80::1:2:3"],
)
def test_ips(ip: str) -> None:
    assert found(f"host {ip} is up") == [("ip", ip)]


def test_ip_at_the_end_of_a_sentence() -> None:
    assert found("The server is 10.0.0.1.") == [("ip", "10.0.0.1")]


@pytest.mark.parametrize(
    "text",
    [
        "999.1.1.1",
        "256.1.1.1",
        "version 1.2.3.4.5",
        "std::vector<int> and abc::def",
        "a bare :: in code",
        "at 12:30:45",
        "1:2:3:4:5:6:7:8:9 too many groups",
        "2001:db8::g1",
    ],
)
def test_not_ips(text: str) -> None:
    assert "ip" not in kinds(text)


def test_one_finding_per_stretch_the_specific_kind_wins() -> None:
    # A test card also reads as digits a phone recognizer could take; the card wins.
    assert kinds("+4242424242424242") in (["card"], ["phone"])
    assert kinds("4242424242424242") == ["card"]
    # An IBAN's digits are not also reported as a phone or NID.
    assert kinds("DE89370400440532013000") == ["iban"]


def test_every_kind_can_be_turned_off() -> None:
    text = "a@b.io 415-555-2671 4242424242424242 DE89370400440532013000 536-22-1234 10.0.0.1"
    assert sorted({f.kind for f in scan(text, PII_KINDS, secrets_on=False)}) == sorted(
        ["email", "phone", "card", "iban", "ssn", "ip"]
    )
    assert [f.kind for f in scan(text, ["email"], secrets_on=False)] == ["email"]
