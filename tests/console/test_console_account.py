"""The console's account screens in a real browser: a workspace created and someone invited (the
invitation token shown once), an API key created (shown once) that then works against the API, an empty
balance told as a sentence, and every screen readable on a phone in the dark theme and keyboard-usable."""

from __future__ import annotations

import threading
import uuid

import httpx
from playwright.sync_api import Page, expect

from shared.settings import Settings
from tests.support import console as browsing
from tests.support.console import Account
from tests.support.helpers import drain_to, sign_up


def test_create_a_workspace_and_invite_a_member(page: Page, signed_in: Account) -> None:
    page.get_by_role("link", name="Workspaces").click()
    page.get_by_label("New workspace name").fill("Bakery")
    page.get_by_role("button", name="Create").click()
    card = page.locator("section.card", has_text="Bakery")
    expect(card).to_contain_text("You are owner")
    expect(card.locator("table.members")).to_contain_text(signed_in.email)
    invitee = f"i{uuid.uuid4().hex[:12]}@example.com"
    card.get_by_label("Invite by email").fill(invitee)
    card.get_by_role("button", name="Invite").click()
    expect(card).to_contain_text("shown only now")
    assert len(card.locator("code.secret").inner_text()) > 16
    expect(card.locator("ul.invites")).to_contain_text(invitee)
    page.get_by_role("link", name="Usage").click()
    expect(page.get_by_label("Whose usage")).to_contain_text("Workspace: Bakery")


def test_an_api_key_is_shown_once_and_works(page: Page, signed_in: Account, console_api: str) -> None:
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key").inner_text()
    assert key.startswith("sk-")
    expect(page.locator("ul.cards")).to_contain_text("laptop")
    answer = httpx.get(f"{console_api}/v1/credits", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200
    page.get_by_role("link", name="Chat").click()
    page.get_by_role("link", name="API keys").click()
    expect(page.locator("ul.cards")).to_contain_text("laptop")
    expect(page.locator("#new-key")).to_have_count(0)  # never shown again


def test_out_of_credits_reads_as_a_sentence(page: Page, console_api: str, settings: Settings) -> None:
    with httpx.Client(base_url=console_api, timeout=30) as client:
        user = sign_up(client)
    browsing.sign_in_page(page, Account(user.email, user.password))
    # The ledger call runs its own event loop: in a thread, away from Playwright's.
    drain = threading.Thread(target=drain_to, args=(settings, user.user_id, 0))
    drain.start()
    drain.join(30)
    page.get_by_label("Message").fill("Hello?")
    page.get_by_label("Message").press("Enter")
    meta = page.locator("li.msg.assistant .meta").last
    expect(meta).to_have_text(
        "You are out of credits for this: your balance does not cover it. Buy credits or try a cheaper model."
    )
    expect(meta).to_have_class("meta error")
    assert "{" not in page.locator("main").inner_text()  # no raw JSON anywhere


def test_readable_on_a_phone_in_the_dark_theme_and_usable_by_keyboard(page: Page, signed_in: Account) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="Dark theme").click()
    assert page.locator("html").get_attribute("data-theme") == "dark"
    for view in ("Chat", "Credits", "Usage", "Files & knowledge", "Workspaces", "API keys"):
        page.get_by_role("link", name=view).click()
        expect(page.locator("main h1")).to_be_visible()
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 390, f"{view} scrolls sideways on a phone ({width}px)"
    page.screenshot(path=str(browsing.output_dir() / "phone-dark-keys.png"), full_page=True)
    # Keyboard only: from the skip link, Tab walks the navigation and Enter opens a screen.
    skip = page.get_by_role("link", name="Skip to content")
    skip.focus()
    expect(skip).to_be_visible()  # shown when focused
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Chat")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Credits")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Credits")).to_have_attribute("aria-current", "page")
    expect(page.locator("#available")).to_be_visible()
