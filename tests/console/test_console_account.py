"""The console's account screens in a real browser: a workspace created and someone invited (the
invitation token shown once), and an API key created (shown once) that then works against the API."""

from __future__ import annotations

import uuid

import httpx
from playwright.sync_api import Page, expect

from tests.support.console import Account


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
