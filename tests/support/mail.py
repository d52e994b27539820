"""Reading the mail catcher (scripts/mail_catcher.py) that scripts.devstack starts: the emails the API
sent, and the verification link in one."""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest


def catcher_url() -> str:
    url = os.environ.get("MAIL_CATCHER_URL")
    if not url:
        pytest.exit("MAIL_CATCHER_URL is not set: run the tests through scripts.devstack.", returncode=3)
    return url


def mails_to(email: str) -> list[dict[str, Any]]:
    """Every message caught for this address, newest first."""
    response = httpx.get(f"{catcher_url()}/messages", params={"to": email}, timeout=10)
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()
    return found


def wait_for_mail(email: str, subject: str, count: int = 1, timeout: float = 10) -> dict[str, Any]:
    """The newest message to `email` whose subject contains `subject`, once at least `count` are in."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in mails_to(email) if subject in m["subject"]]
        if len(found) >= count:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} of {count} emails {subject!r} to {email} caught")
        time.sleep(0.05)


def verification_link(email: str, count: int = 1) -> str:
    """The path and fragment of the verification link (the console's page) in the newest verification
    email to `email`, to be opened on whichever test server is the API (the link's host is
    settings.public_api_url)."""
    mail = wait_for_mail(email, "Verify your email", count)
    links = [link for link in mail["links"] if "/app/#/verify/" in link]
    assert len(links) == 1, mail
    url = urlsplit(links[0])
    return f"{url.path}#{url.fragment}"


def verification_path(email: str, count: int = 1) -> str:
    """The API call the console's page makes with the emailed link's token: the verify endpoint's path and
    query, for the tests that verify without a browser."""
    token = verification_link(email, count).rsplit("/", 1)[1]
    return f"/v1/auth/verify-email?{urlencode({'token': token})}"
