"""Export jobs end to end on the emulators: the API checks the source and reserves, the Cloud Tasks
emulator calls the worker, which reads the thread (Firestore) or the research report (Storage), renders
PDF and DOCX and stores them; the files behind the signed URLs are opened for real (the PDF rendered
to an image with pdfium, the DOCX read back with python-docx)."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections.abc import Callable
from typing import Any

import docx
import httpx
import pypdfium2 as pdfium

from shared.export.to_pdf import find_font
from tests.support.helpers import User, balance, db, wait_settled
from tests.support.jobs import (
    EXPORT_PRICE,
    WELCOME,
    JobsStack,
    finished,
    hold_of,
    storage_client,
    wait_for_job,
)

ANSWER = """# Itinerary

Day one in **Київ**, then [the museum](https://example.com/museum).

- Breakfast at 8
- Walk to Ελληνικά street
  1. first stop
  2. second stop

```
print("東京 ✓")
```
"""


def make_thread(client: httpx.Client, user: User, title: str) -> str:
    response = client.post("/v1/threads", headers=user.headers, json={"title": title})
    assert response.status_code == 201, response.text
    thread_id: str = response.json()["id"]
    at = dt.datetime.now(dt.UTC)
    messages = db().collection("threads").document(thread_id).collection("messages")
    messages.document("m1").set({"seq": 1, "role": "user", "content": "Plan a day in Київ", "created_at": at})
    messages.document("m2").set(
        {"seq": 2, "role": "assistant", "content": ANSWER, "created_at": at, "model": "fake-echo"}
    )
    return thread_id


def export(client: httpx.Client, user: User, source: dict[str, str], formats: list[str]) -> httpx.Response:
    return client.post(
        "/v1/jobs",
        headers=user.headers,
        json={"type": "export", "input": {"source": source, "formats": formats}},
    )


def fetch(url: str) -> bytes:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    return response.content


def pdf_page(data: bytes) -> tuple[str, int]:
    """The first page's text, and how many of its pixels are not white (rendered at 72 dpi)."""
    pdf = pdfium.PdfDocument(data)
    page = pdf[0]
    text = page.get_textpage().get_text_range()
    image = page.render(scale=1).to_pil().convert("L")
    inked = sum(1 for value in image.getdata() if value < 200)
    pdf.close()
    return text, inked


def test_export_thread_to_pdf_and_docx(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], jobs_stack: JobsStack
) -> None:
    user = jobs_user()
    thread_id = make_thread(jobs_client, user, "Trip notes ✓")
    response = export(jobs_client, user, {"thread_id": thread_id}, ["pdf", "docx"])
    assert response.status_code == 202, response.text
    assert response.json()["reserved"] == 2 * EXPORT_PRICE
    job = wait_for_job(jobs_client, user, response.json()["id"], finished)
    assert job["state"] == "succeeded", job
    assert job["spent"] == 2 * EXPORT_PRICE
    pdf_result, docx_result = job["results"]
    assert pdf_result["path"] == f"users/{user.user_id}/jobs/{job['id']}/export.pdf"
    assert docx_result["content_type"].endswith("wordprocessingml.document")

    text, inked = pdf_page(fetch(pdf_result["url"]))
    assert inked > 2000, "the first page is blank"
    for words in ("Itinerary", "the museum (https://example.com/museum)", "Breakfast at 8"):
        assert words in text, words
    if find_font(None) is not None:  # DejaVu Sans (Debian's fonts-dejavu-core), as on the project's machines
        for words in ("Trip notes ✓", "Київ", "Ελληνικά"):
            assert words in text, words
        assert 'print("?? ✓")' in text  # DejaVu Sans has no CJK glyphs: drawn as "?", not dropped
    else:  # the Latin-1 fallback
        assert "Trip notes ?" in text and 'print("?? ?")' in text

    document = docx.Document(io.BytesIO(fetch(docx_result["url"])))
    paragraphs = [(p.style.name if p.style else "", p.text) for p in document.paragraphs]
    assert paragraphs[0] == ("Title", "Trip notes ✓")
    assert ("Heading 2", "You") in paragraphs and ("Heading 2", "Assistant (fake-echo)") in paragraphs
    assert ("Heading 1", "Itinerary") in paragraphs
    assert ("List Bullet", "Walk to Ελληνικά street") in paragraphs
    assert ("List Number 2", "second stop") in paragraphs
    assert ("Normal", 'print("東京 ✓")') in paragraphs

    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - 2 * EXPORT_PRICE, "reserved": 0}
    hold = hold_of(job["id"])
    assert hold["state"] == "settled" and hold["charged"] == 2 * EXPORT_PRICE


def research_job(user: User, bucket: str, report: str | None, state: str = "succeeded") -> str:
    """A finished research job as the research kind leaves it: the job document and its report.md."""
    job_id = uuid.uuid4().hex
    path = f"users/{user.user_id}/jobs/{job_id}/report.md"
    if report is not None:
        storage_client().bucket(bucket).blob(path).upload_from_string(report, content_type="text/markdown")
    at = dt.datetime.now(dt.UTC)
    results: list[dict[str, Any]] = [
        {
            "index": 0,
            "kind": "report",
            "path": path,
            "content_type": "text/markdown",
            "bytes": len(report or ""),
        }
    ]
    db().collection("jobs").document(job_id).set(
        {
            "type": "research",
            "state": state,
            "user_id": user.user_id,
            "wallet_id": user.user_id,
            "params": {"question": "Why is the sky blue?"},
            "step": 1,
            "steps": 1,
            "results": results if state == "succeeded" else [],
            "hold_id": f"job:{job_id}",
            "reserved": 0,
            "deadline": at,
            "created_at": at,
            "updated_at": at,
        }
    )
    return job_id


def test_export_research_report(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], jobs_stack: JobsStack
) -> None:
    user = jobs_user()
    report = "# Rayleigh scattering\n\nShort wavelengths scatter more [1].\n\n## Sources\n\n1. https://example.org\n"
    source = research_job(user, jobs_stack.settings.jobs_bucket, report)
    response = export(jobs_client, user, {"job_id": source}, ["docx"])
    assert response.status_code == 202, response.text
    job = wait_for_job(jobs_client, user, response.json()["id"], finished)
    assert job["state"] == "succeeded" and job["spent"] == EXPORT_PRICE
    [result] = job["results"]
    document = docx.Document(io.BytesIO(fetch(result["url"])))
    paragraphs = [(p.style.name if p.style else "", p.text) for p in document.paragraphs]
    assert paragraphs[:3] == [
        ("Title", "Why is the sky blue?"),
        ("Heading 1", "Rayleigh scattering"),
        ("Normal", "Short wavelengths scatter more [1]."),
    ]
    assert ("List Number", "https://example.org") in paragraphs
    assert wait_settled(jobs_client, user.headers) == {"available": WELCOME - EXPORT_PRICE, "reserved": 0}

    again = httpx.post(
        jobs_stack.worker_url, json={"job_id": job["id"], "step": 0}, timeout=30
    )  # redelivered
    assert again.status_code == 200 and again.json()["result"] == "finished"
    assert jobs_client.get(f"/v1/jobs/{job['id']}", headers=user.headers).json()["spent"] == EXPORT_PRICE
    assert hold_of(job["id"])["charged"] == EXPORT_PRICE
    assert balance(jobs_client, user.headers) == {"available": WELCOME - EXPORT_PRICE, "reserved": 0}


def test_sources_the_caller_may_not_export_move_nothing(
    jobs_client: httpx.Client, jobs_user: Callable[[], User], jobs_stack: JobsStack
) -> None:
    owner, other = jobs_user(), jobs_user()
    thread_id = make_thread(jobs_client, owner, "private")
    report_job = research_job(owner, jobs_stack.settings.jobs_bucket, "# mine\n")
    running_job = research_job(other, jobs_stack.settings.jobs_bucket, None, state="running")
    cases = [
        ({"thread_id": thread_id}, 404, "thread_not_found"),
        ({"job_id": report_job}, 404, "job_not_found"),
        ({"thread_id": "no-such-thread"}, 404, "thread_not_found"),
        ({"job_id": running_job}, 409, "source_not_ready"),
    ]
    for source, status, code in cases:
        response = export(jobs_client, other, source, ["pdf"])
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
    for bad in (
        {"source": {"thread_id": thread_id}, "formats": ["txt"]},
        {"source": {"thread_id": thread_id}, "formats": []},
        {"source": {"thread_id": thread_id, "job_id": report_job}},
        {"source": {"thread_id": thread_id}, "formats": ["pdf", "pdf"]},
    ):
        response = jobs_client.post("/v1/jobs", headers=owner.headers, json={"type": "export", "input": bad})
        assert response.status_code in (400, 422), response.text
    for user in (owner, other):
        assert balance(jobs_client, user.headers) == {"available": WELCOME, "reserved": 0}
        listed = jobs_client.get("/v1/jobs", headers=user.headers).json()["data"]
        assert [j for j in listed if j["type"] == "export"] == []
