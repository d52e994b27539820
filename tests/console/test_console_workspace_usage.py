"""A workspace admin sees each member's spend in the workspace view, drawn from GET /v1/usage (the
numbers are checked in the DOM); a plain member does not get the chart. The usage records are written as
the ledger writes them (tests/integration/test_usage_report.py does the same), so the numbers are known."""

from __future__ import annotations

import datetime as dt

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.support import console as browsing
from tests.support.console import Account
from tests.support.helpers import User, db, sign_up
from tests.support.workspaces import create, join


def record(user: User, wallet: str, credits: int) -> None:
    doc = {
        "user_id": user.user_id,
        "wallet_id": wallet,
        "model": "gpt-4o-mini",
        "credits": credits,
        "created_at": dt.datetime.now(dt.UTC),
        "outcome": "ok",
        "input_tokens": 10,
        "output_tokens": 5,
    }
    db().collection("usage").document().set(doc)


def test_admins_see_each_members_spend(
    page: Page, signed_in: Account, console_api: str, browser: Browser
) -> None:
    with httpx.Client(base_url=console_api, timeout=60) as client:
        login = client.post("/v1/auth/login", json={"email": signed_in.email, "password": signed_in.password})
        tokens = login.json()
        owner = User(tokens["user"]["id"], signed_in.email, signed_in.password, tokens["access_token"], "")
        member, idle = sign_up(client), sign_up(client)
        ws = create(client, owner, name="Spenders")
        join(client, owner, ws["id"], member)
        join(client, owner, ws["id"], idle)
    shard = f"ws-{ws['id']}~1"
    record(member, shard, 1_500)
    record(member, ws["wallet_id"], 250)
    record(owner, shard, 400)
    record(member, f"user-wallet-{member.user_id}", 99_999)  # their own wallet: not the workspace's

    page.get_by_role("link", name="Workspaces").click()
    card = page.locator(f"[data-workspace='{ws['id']}']")
    chart = card.get_by_role("img", name="Credits spent per member")
    expect(chart).to_be_visible()
    expected = {member.email: 1_750, owner.email: 400, idle.email: 0}
    bars = card.locator("rect[data-member]")
    expect(bars).to_have_count(3)
    shown = {bar.get_attribute("data-member"): bar.get_attribute("data-credits") for bar in bars.all()}
    assert shown == {email: str(n) for email, n in expected.items()}
    expect(chart).to_have_attribute(
        "aria-label",
        f"Credits spent per member: {member.email}: 1,750; {owner.email}: 400; {idle.email}: 0",
    )
    expect(card.locator("figcaption")).to_contain_text("Credits spent per member")
    page.screenshot(path=browsing.output_dir() / "workspace-member-usage.png", full_page=True)

    with browsing.console_page(browser, console_api) as other:
        browsing.sign_in_page(other, Account(member.email, member.password))
        other.get_by_role("link", name="Workspaces").click()
        their_card = other.locator(f"[data-workspace='{ws['id']}']")
        expect(their_card.get_by_role("table", name="Members")).to_be_visible()
        expect(their_card.get_by_role("img", name="Credits spent per member")).to_have_count(0)
