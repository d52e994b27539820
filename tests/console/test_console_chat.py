"""The web console in a real browser (Chromium, headless) against the API and the local model: sign up
through the form, chat and see the tokens arrive one by one, stop a stream, see the balance go down by
what the answer says it cost, and the usage chart draw the day's spend."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.console import Account

pytestmark = pytest.mark.model
STORY = "Write a long story about a dragon who learns to bake bread."


@pytest.fixture(autouse=True)
def local_model() -> None:
    if not os.environ.get("LOCAL_MODEL_URL"):
        pytest.fail("LOCAL_MODEL_URL is not set: run through the devstack with WITH_MODEL=1 (`make test`).")


def send(page: Page, text: str, max_tokens: int | None = None) -> None:
    page.get_by_label("Model").select_option("smollm2")
    if max_tokens is not None:
        page.get_by_label("Most tokens in the answer (optional)").fill(str(max_tokens))
    page.get_by_label("Message").fill(text)
    page.get_by_label("Message").press("Enter")


def watch_pieces(page: Page, until: int | None = None, timeout: float = 60) -> list[tuple[float, int]]:
    """(time, how many text pieces the last answer shows) each time the count changes, until the answer
    is done (or `until` pieces arrived)."""
    answer = page.locator("li.msg.assistant").last
    seen: list[tuple[float, int]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pieces = int(answer.locator(".body").get_attribute("data-pieces") or 0)
        if not seen or pieces != seen[-1][1]:
            seen.append((time.monotonic(), pieces))
        if answer.get_attribute("data-done") == "true" or (until is not None and pieces >= until):
            return seen
        time.sleep(0.01)
    raise AssertionError(f"the answer did not finish in {timeout}s: {seen[-3:]}")


def available(page: Page) -> int:
    return int(page.locator("#balance").get_attribute("data-available") or -1)


def wait_balance(page: Page, expected: int, timeout: float = 15) -> None:
    """The Credits view shows `expected` (the hold settles just after the stream ends: reopen the view)."""
    deadline = time.monotonic() + timeout
    while True:
        page.get_by_role("link", name="Chat").click()
        page.get_by_role("link", name="Credits").click()
        shown = page.locator("#available")
        expect(shown).to_be_visible()
        if int(shown.inner_text().replace(",", "")) == expected or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    expect(page.locator("#available")).to_have_text(f"{expected:,}")


def test_sign_up_chat_streams_and_the_balance_and_usage_chart_follow(
    page: Page, signed_in: Account, output_dir: Path
) -> None:
    before = available(page)
    send(page, STORY, max_tokens=40)
    seen = watch_pieces(page)
    growing = [n for _, n in seen if n > 0]
    assert len(growing) >= 5, f"the text did not arrive piece by piece: {seen}"
    assert seen[-1][0] - next(t for t, n in seen if n > 0) > 0.05, "the tokens arrived in one burst"
    charge = page.locator("li.msg.assistant .meta").last
    expect(charge).to_contain_text("credit")
    charged = int(charge.get_attribute("data-credits") or 0)
    assert charged > 0

    wait_balance(page, before - charged)
    expect(page.locator("#balance")).to_have_text(f"{before - charged:,} credits")
    expect(page.locator("table.ledger tbody tr").first).to_be_visible()

    page.get_by_role("link", name="Usage").click()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    bar = page.locator(f'#usage-chart rect.bar[data-day="{today}"]')
    expect(bar).to_have_attribute("data-credits", str(charged))
    assert float(bar.get_attribute("height") or 0) > 0, "today's bar has no height"
    expect(page.locator("#usage-total")).to_have_attribute("data-credits", str(charged))
    expect(page.locator("table.buckets").first).to_contain_text("smollm2")
    page.locator("figure").screenshot(path=str(output_dir / "usage-chart.png"))
    page.screenshot(path=str(output_dir / "usage-page.png"), full_page=True)
    assert (output_dir / "usage-chart.png").stat().st_size > 1000


def test_stop_cancels_the_stream_and_shows_what_was_charged(
    page: Page, signed_in: Account, output_dir: Path
) -> None:
    before = available(page)
    send(page, STORY)  # up to the model's 1024 tokens: seconds of text unless stopped
    watch_pieces(page, until=8)
    page.get_by_role("button", name="Stop").click()
    answer = page.locator("li.msg.assistant").last
    expect(answer).to_have_attribute("data-done", "true")
    body = answer.locator(".body")
    stopped_at = body.inner_text()
    meta = answer.locator(".meta")
    expect(meta).to_have_class("meta stopped")
    expect(meta).to_contain_text("charged for what was generated", timeout=15_000)
    time.sleep(1.0)
    assert body.inner_text() == stopped_at, "text kept arriving after Stop"
    charged = int(meta.get_attribute("data-credits") or 0)
    assert charged > 0
    assert available(page) == before - charged
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    page.screenshot(path=str(output_dir / "chat-stopped.png"), full_page=True)


def test_console_pages_carry_a_strict_csp_and_errors_read_as_sentences(page: Page, console_api: str) -> None:
    answer = httpx.get(f"{console_api}/app/")
    assert answer.status_code == 200
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert httpx.get(f"{console_api}/app", follow_redirects=False).status_code == 308
    page.goto("/app/")
    page.get_by_label("Email").fill("nobody@example.com")
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".auth .status")).to_have_text("That email and password do not match an account.")
