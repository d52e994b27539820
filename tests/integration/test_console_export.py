"""The console's Threads and Jobs screens in a real browser on the jobs stack (emulated Cloud Tasks and
Storage, the jobs worker): a thread exported to PDF from the Threads screen, its progress followed live
on the Jobs screen (SSE), and the PDF behind the signed URL the page links to opened."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support import console as browsing
from tests.support.console import Account
from tests.support.helpers import User
from tests.support.jobs import JobsStack


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    browsing.built_console()  # before the jobs stack's API starts: it mounts console/dist when it exists
    with browsing.launch() as chromium:
        yield chromium


@pytest.fixture
def page(browser: Browser, jobs_stack: JobsStack) -> Iterator[Page]:
    with browsing.console_page(browser, jobs_stack.api) as pg:
        yield pg


def test_export_a_thread_follow_the_job_and_open_its_pdf(
    page: Page, jobs_client: httpx.Client, jobs_user: Callable[[], User]
) -> None:
    user = jobs_user()
    thread = jobs_client.post("/v1/threads", headers=user.headers, json={"title": "Bread notes"})
    assert thread.status_code == 201, thread.text
    thread_id = thread.json()["id"]
    said = jobs_client.post(
        f"/v1/threads/{thread_id}/messages",
        headers=user.headers,
        json={"content": "How long does dough rise?", "stream": False},
    )
    assert said.status_code == 200, said.text

    browsing.sign_in_page(page, Account(user.email, user.password))
    page.get_by_role("link", name="Threads").click()
    card = page.locator("li.card", has_text="Bread notes")
    expect(card).to_contain_text("2 messages")
    card.get_by_role("button", name="Export PDF").click()

    job = page.locator("li.job.focus")
    expect(job).to_be_visible()
    expect(job.locator(".state")).to_have_attribute("data-state", "succeeded", timeout=60_000)
    link = job.get_by_role("link", name="Open")
    expect(link).to_contain_text("application/pdf")
    assert link.get_attribute("target") == "_blank" and "noopener" in (link.get_attribute("rel") or "")
    url = link.get_attribute("href") or ""
    pdf = httpx.get(url, timeout=10)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    page.screenshot(path=str(Path(browsing.output_dir()) / "export-job.png"), full_page=True)
