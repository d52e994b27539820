"""The console's Files & knowledge screen in a real browser on the jobs stack (the worker indexes files):
a file uploaded, a store made of it, its status followed until Ready, then Chat answering from the store
with the file cited under the answer (the fake model echoes the question, whose `[1]` cites the first
excerpt, as tests/integration/test_knowledge_chat.py does)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.integration.test_vector_stores_sdk import ORBITS
from tests.support import console as browsing
from tests.support.console import Account
from tests.support.helpers import User
from tests.support.jobs import JobsStack

QUESTION = "[[echo]] Who described planetary orbits as ellipses? [1]"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    browsing.built_console()  # before the jobs stack's API starts: it mounts console/dist when it exists
    with browsing.launch() as chromium:
        yield chromium


@pytest.fixture
def page(browser: Browser, jobs_stack: JobsStack) -> Iterator[Page]:
    with browsing.console_page(browser, jobs_stack.api) as pg:
        yield pg


def test_upload_make_a_store_see_it_indexed_and_chat_from_it(
    page: Page, jobs_user: Callable[[], User]
) -> None:
    user = jobs_user()
    browsing.sign_in_page(page, Account(user.email, user.password))
    page.get_by_role("link", name="Files & knowledge").click()
    page.get_by_label("File to upload").set_input_files(
        {"name": "orbits.md", "mimeType": "text/markdown", "buffer": ORBITS.encode()}
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    files = page.locator("#files")
    expect(files).to_contain_text("orbits.md")
    files.get_by_label("orbits.md").check()
    page.get_by_label("New store name").fill("Astronomy")
    page.get_by_role("button", name="Create store").click()

    # Creating the store writes it and starts a job per file; at the end of a full run on two cores the
    # emulators answer slowly, so this waits for the answer rather than the default 5 s.
    expect(page.get_by_role("alert")).to_contain_text("Created Astronomy", timeout=30_000)
    card = page.locator("li.store", has_text="Astronomy")
    expect(card).to_be_visible()
    state = card.locator("td.state")
    expect(state).to_have_attribute("data-state", "completed", timeout=60_000)
    expect(state).to_have_text("Ready")
    expect(card.locator("tr")).to_contain_text(["orbits.md"])
    # The Chat view left mid-load (signing in opens it) leaves no error on this one.
    expect(page.locator("main p.error")).to_have_count(0)
    page.screenshot(path=str(Path(browsing.output_dir()) / "knowledge.png"), full_page=True)

    store_id = card.get_attribute("data-id") or ""
    assert store_id.startswith("vs_")
    card.get_by_role("link", name="Ask it in Chat").click()
    expect(page.get_by_label("Answer from")).to_have_value(store_id)
    page.get_by_label("Model").select_option("fake-echo")
    page.get_by_label("Message").fill(QUESTION)
    page.get_by_label("Message").press("Enter")
    answer = page.locator("li.msg.assistant").last
    expect(answer).to_have_attribute("data-done", "true")
    sources = answer.get_by_role("list", name="Sources")
    expect(sources).to_contain_text("[1] orbits.md")
    expect(sources).to_contain_text("Kepler")
