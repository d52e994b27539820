"""Email and password rules, and the Argon2 hasher."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from shared.auth.errors import InvalidEmail, WeakPassword
from shared.auth.passwords import Passwords, check_password_policy, normalise_email

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Alice@Example.COM ", "alice@example.com"),
        ("a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk"),
        ("x_y-z@ex-ample.io", "x_y-z@ex-ample.io"),
    ],
)
async def test_valid_emails_are_normalised(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "plain",
        "@example.com",
        "a@",
        "a@b",
        "a..b@example.com",
        ".a@example.com",
        "a.@example.com",
        "a b@example.com",
        "a@exa mple.com",
        "a/b@example.com",
        "a@-example.com",
        "a@example.c",
        "a@@example.com",
        "a\n@example.com",
        "x" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
        '"quoted"@example.com',
        "a@[127.0.0.1]",
    ],
)
async def test_invalid_emails_are_refused(raw: str) -> None:
    with pytest.raises(InvalidEmail) as err:
        normalise_email(raw)
    assert err.value.status == 422


@pytest.mark.parametrize("password", ["short", "123456789", " " * 12, "x" * 257])
async def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(WeakPassword) as err:
        check_password_policy(password)
    assert err.value.code == "weak_password"


async def test_acceptable_passwords_pass() -> None:
    check_password_policy("x" * 10)
    check_password_policy("x" * 256)
    check_password_policy("correct horse battery staple")


async def test_hash_and_verify() -> None:
    passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    hashed = await passwords.hash("correct horse battery staple")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert await passwords.verify(hashed, "correct horse battery staple")
    assert not await passwords.verify(hashed, "wrong horse battery staple")
    assert not await passwords.verify("not-a-hash", "anything")
    # No account: a dummy hash is still checked, and the answer is always no.
    assert not await passwords.verify(None, "correct horse battery staple")


async def test_weaker_old_hashes_need_rehash() -> None:
    old = await Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)).hash("p" * 12)
    assert Passwords().needs_rehash(old)
