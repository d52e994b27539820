"""The console's audio in a real browser (Chromium, headless, with a fake microphone playing a WAV the
test writes): Dictate streams the microphone to the live transcription WebSocket, the transcript so far
shows in the message box and the final one when stopped, the session's usage record is what left the
balance, and stopping closes the socket; an expired token, a flood (429) and a third tab (too many
sessions) on the socket read as sentences and charge nothing. Read aloud speaks an answer through
POST /v1/audio/speech and plays it from a blob: URL, charged what the call says.

The providers are the project's fakes (tests/fakes/transcription.py answers "[<ms>ms]" for the audio it
got; tests/fakes/speech.py answers scripted bytes), behind the real API, ledger and Firestore emulator."""

from __future__ import annotations

import json
import math
import re
import struct
import time
import uuid
import wave
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, WebSocket, WebSocketRoute, expect

from shared.auth.tokens import AccessTokens
from shared.settings import Settings
from tests.fakes.speech import FakeSpeech
from tests.fakes.transcription import FakeTranscription
from tests.support import console as browsing
from tests.support.audio import PRICE as STT_PRICE
from tests.support.console import Account
from tests.support.helpers import User, balance, db, drain_to, sign_up, wait_settled
from tests.support.servers import ServerThread
from tests.support.speech import PER_CHAR, PRICE_PER_MILLION

TONE_HZ = 440
WAV_RATE = 48_000  # a common device rate: the page's worklet brings it down to 16 kHz


@pytest.fixture(scope="module")
def microphone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of a 440 Hz tone, mono 16-bit PCM (the format Chromium's fake capture reads; looped)."""
    path = tmp_path_factory.mktemp("mic") / "tone.wav"
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * TONE_HZ * i / WAV_RATE)))
        for i in range(2 * WAV_RATE)
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(WAV_RATE)
        out.writeframes(frames)
    return path


@pytest.fixture(scope="module")
def fake_speech() -> Iterator[FakeSpeech]:
    fake = FakeSpeech()
    with ServerThread(fake.app) as server:
        fake.base_url = f"{server.url}/v1"
        yield fake


@pytest.fixture(scope="module")
def audio_api(
    settings: Settings,
    fake_stt: FakeTranscription,
    fake_speech: FakeSpeech,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The API with the console mounted and the fakes as its speech models: `tts-1` (the console's Read
    aloud model) on the fake speech server, `fake-stt` (the stream's default) on the fake transcriber."""
    from run_services.api.main import create_app

    media = tmp_path_factory.mktemp("audio-console") / "media.toml"
    media.write_text(
        f"""
[[transcription]]
id = "fake-stt"
provider = "fake"
litellm_model = "openai/fake-stt"
api_base = "{fake_stt.base_url}"
price_per_second = {STT_PRICE}

[[speech]]
id = "tts-1"
provider = "fake"
litellm_model = "openai/fake-tts"
api_base = "{fake_speech.base_url}"
price_per_million_chars = {PRICE_PER_MILLION}
max_input_chars = 100
voices = ["alloy"]
"""
    )
    configured = browsing.console_settings(
        settings,
        media_catalog_path=media,
        stt_partial_every_s=1.0,
        stt_min_seconds=1,
        stt_max_seconds=60,
        stt_idle_timeout_s=20.0,
    )
    with ServerThread(create_app(configured)) as server:
        yield server.url


@pytest.fixture(scope="module")
def browser(microphone_wav: Path) -> Iterator[Browser]:
    with browsing.launch(browsing.fake_microphone(microphone_wav)) as chromium:
        yield chromium


@pytest.fixture
def page(browser: Browser, audio_api: str) -> Iterator[Page]:
    with browsing.console_page(browser, audio_api) as pg:
        yield pg


@pytest.fixture
def client(audio_api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=audio_api, timeout=30) as c:
        yield c


@pytest.fixture
def user(client: httpx.Client, page: Page) -> User:
    made = sign_up(client, f"mic{uuid.uuid4().hex[:12]}@example.com", "correct horse battery")
    browsing.sign_in_page(page, Account(made.email, made.password))
    return made


def usage_record(record_id: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snapshot = db().collection("usage").document(record_id).get()
        if snapshot.exists:
            return snapshot.to_dict() or {}
        time.sleep(0.1)
    raise AssertionError(f"no usage record {record_id}")


def frames(ws: WebSocket) -> tuple[list[str | bytes], list[dict[str, Any]]]:
    """What the page sends on `ws` and the server's JSON messages, as they happen."""
    sent: list[str | bytes] = []
    received: list[dict[str, Any]] = []
    ws.on("framesent", lambda payload: sent.append(payload))
    ws.on("framereceived", lambda payload: received.append(json.loads(payload)))
    return sent, received


def test_dictate_shows_partials_then_the_final_text_charged_as_its_usage_record(
    page: Page, client: httpx.Client, user: User, fake_stt: FakeTranscription
) -> None:
    before = balance(client, user.headers)["available"]
    box = page.get_by_label("Message")
    box.fill("Note:")
    with page.expect_websocket() as opened:
        page.get_by_role("button", name="Dictate").click()
    ws = opened.value
    sent, received = frames(ws)
    assert "/v1/audio/transcriptions/stream" in ws.url and "token" not in ws.url
    stop = page.get_by_role("button", name="Stop dictating")
    expect(stop).to_have_attribute("aria-pressed", "true")
    # The transcript so far, live, after what the box held: the fake writes what it heard, a second at a time.
    expect(box).to_have_value(re.compile(r"^Note: \[1000ms\]"), timeout=20_000)
    expect(box).to_have_value(re.compile(r"^Note: \[1000ms\] \[1000ms\]"), timeout=20_000)
    stop.click()

    status = page.locator("#dictation")
    expect(status).to_have_attribute("data-closed", "true", timeout=20_000)
    expect(page.get_by_role("button", name="Dictate")).to_have_attribute("aria-pressed", "false")
    assert ws.is_closed(), "stopping did not close the socket"
    final = next(m for m in received if m["type"] == "final")
    assert [m["type"] for m in received if m["type"] != "partial"] == ["started", "final"]
    assert final["seconds"] >= 2.0
    assert final["text"] == f"[{round(final['seconds'] * 1000)}ms]"
    expect(box).to_have_value(f"Note: {final['text']}")
    expect(status).to_have_attribute("data-credits", str(final["credits"]))
    expect(status).to_contain_text(f"{final['credits']:,} credits")

    # The page sent the start message with its token (not the URL), then PCM16 at 16 kHz, then stop.
    start = json.loads(str(sent[0]))
    assert start == {
        "type": "start",
        "token": start["token"],
        "encoding": "pcm16",
        "sample_rate": 16000,
        "channels": 1,
    }
    samples = sum(len(f) for f in sent[1:] if isinstance(f, bytes)) // 2
    assert round(samples / 16000, 3) == final["seconds"]
    assert final["credits"] == math.ceil(samples * STT_PRICE / 16000)  # every sample sent was charged
    assert json.loads(str(sent[-1])) == {"type": "stop"}
    assert fake_stt.calls_for("fake-stt")[-1] == round(final["seconds"] * 1000)

    record = usage_record(f"stt:{page.locator('#dictation').get_attribute('data-session')}")
    assert record["feature"] == "transcription" and record["user_id"] == user.user_id
    assert record["credits"] == final["credits"] and record["outcome"]
    assert wait_settled(client, user.headers) == {"available": before - final["credits"], "reserved": 0}
    expect(page.locator("#balance")).to_have_attribute("data-available", str(before - final["credits"]))


def test_an_expired_token_on_the_socket_reads_as_a_sentence_and_charges_nothing(
    page: Page, client: httpx.Client, user: User, settings: Settings
) -> None:
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""
    expired = AccessTokens(secret, settings.jwt_issuer, settings.jwt_audience, -120).issue(user.user_id).token
    closes: list[int] = []

    def with_expired_token(route: WebSocketRoute) -> None:
        """The real server behind, but the page's token swapped for one that expired two minutes ago."""
        server = route.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if isinstance(message, str) and json.loads(message).get("type") == "start":
                message = json.dumps({**json.loads(message), "token": expired})
            server.send(message)

        def closed(code: int | None, reason: str | None) -> None:
            closes.append(code or 0)
            route.close(code=code, reason=reason)

        route.on_message(to_server)
        server.on_close(closed)

    page.route_web_socket(re.compile(r".*/v1/audio/transcriptions/stream$"), with_expired_token)
    before = balance(client, user.headers)
    page.get_by_role("button", name="Dictate").click()
    status = page.locator("#dictation")
    expect(status).to_have_text(
        "Your session ended, so dictation was refused. Sign in again and press Dictate.", timeout=20_000
    )
    expect(status).to_have_class(re.compile(r"\berror\b"))
    expect(page.get_by_role("button", name="Dictate")).to_be_enabled()
    assert closes == [1008]
    assert balance(client, user.headers) == before


def test_read_aloud_plays_the_answer_from_a_blob_and_charges_the_speech_call(
    page: Page, client: httpx.Client, user: User, fake_speech: FakeSpeech
) -> None:
    words = "Dough rises in about an hour somewhere warm"
    expect(page.get_by_label("Message")).to_be_focused()  # the view is ready: it focuses the box last
    page.get_by_label("Message").fill(f"[[echo]] {words}")
    page.get_by_label("Message").press("Enter")
    answer = page.locator("li.msg.assistant").last
    expect(answer).to_have_attribute("data-done", "true")
    expect(answer.locator(".body")).to_have_text(words)
    before = wait_settled(client, user.headers)["available"]

    answer.get_by_role("button", name="Read aloud").click()
    status = answer.locator(".read [role=status]")
    price = len(words) * PER_CHAR
    expect(status).to_have_attribute("data-credits", str(price))
    expect(status).to_contain_text(f"Read aloud: {price:,} credits")
    player = answer.locator("audio")
    expect(player).to_be_visible()
    expect(player).to_have_attribute("src", re.compile(r"^blob:"))
    assert [c.body["input"] for c in fake_speech.calls_for(words)] == [words]
    assert fake_speech.calls_for(words)[0].body["voice"] == "alloy"
    assert wait_settled(client, user.headers)["available"] == before - price
    expect(page.locator("#balance")).to_have_attribute("data-available", str(before - price))


def test_read_aloud_says_why_it_failed_and_charges_nothing(
    page: Page, client: httpx.Client, user: User
) -> None:
    words = " ".join(["loaf"] * 30)  # 149 characters: past the model's 100
    expect(page.get_by_label("Message")).to_be_focused()  # the view is ready: it focuses the box last
    page.get_by_label("Message").fill(f"[[echo]] {words}")
    page.get_by_label("Message").press("Enter")
    answer = page.locator("li.msg.assistant").last
    expect(answer).to_have_attribute("data-done", "true")
    before = wait_settled(client, user.headers)["available"]
    answer.get_by_role("button", name="Read aloud").click()
    status = answer.locator(".read [role=status]")
    expect(status).to_contain_text("Could not read this aloud:")
    assert "{" not in (status.inner_text()), "raw JSON shown"
    expect(answer.locator("audio")).to_be_hidden()
    assert wait_settled(client, user.headers)["available"] == before


def test_dictating_without_the_credits_for_it_says_what_to_do_and_charges_nothing(
    page: Page, client: httpx.Client, user: User, settings: Settings
) -> None:
    # Less than the shortest stream (1 s) costs; in a thread of its own, as Playwright's loop runs here.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(drain_to, settings, user.user_id, STT_PRICE // 2).result()
    before = balance(client, user.headers)
    page.get_by_role("button", name="Dictate").click()
    status = page.locator("#dictation")
    expect(status).to_have_text(
        "You are out of credits for dictation. Buy credits and press Dictate again.", timeout=20_000
    )
    expect(page.get_by_role("button", name="Dictate")).to_have_attribute("aria-pressed", "false")
    assert balance(client, user.headers) == before


def test_dictating_after_a_flood_says_to_wait_and_charges_nothing(
    page: Page, client: httpx.Client, user: User
) -> None:
    """The caller's per-minute bucket emptied by other requests: the socket closes 4429 and the page says
    to wait, without raw JSON, and nothing is held or charged."""
    statuses = [client.get("/v1/billing/packages", headers=user.headers).status_code for _ in range(80)]
    assert 429 in statuses, statuses
    before = balance(client, user.headers)
    page.get_by_role("button", name="Dictate").click()
    status = page.locator("#dictation")
    expect(status).to_have_text(
        "Too many requests right now. Wait a moment, then press Dictate again.", timeout=20_000
    )
    expect(status).to_have_class(re.compile(r"\berror\b"))
    expect(page.get_by_role("button", name="Dictate")).to_have_attribute("aria-pressed", "false")
    assert balance(client, user.headers) == before


def test_dictating_in_one_tab_too_many_says_where_it_runs(
    page: Page, browser: Browser, audio_api: str, client: httpx.Client, user: User
) -> None:
    """Two dictations already open for the account (max_speech_sessions, 2 by default), a third tab's is
    refused with too_many_speech_sessions and says to stop one; the open ones go on and end charged."""
    account = Account(user.email, user.password)
    with (
        browsing.console_page(browser, audio_api) as second,
        browsing.console_page(browser, audio_api) as third,
    ):
        browsing.sign_in_page(second, account)
        browsing.sign_in_page(third, account)
        for open_tab in (page, second):
            open_tab.get_by_role("button", name="Dictate").click()
            stop = open_tab.get_by_role("button", name="Stop dictating")
            expect(stop).to_have_attribute("aria-pressed", "true")
            expect(open_tab.get_by_label("Message")).to_have_value(re.compile(r"\[\d+ms\]"), timeout=20_000)
        third.get_by_role("button", name="Dictate").click()
        refused = third.locator("#dictation")
        expect(refused).to_have_text(
            "Dictation is already running in another tab or window. Stop it there, then press Dictate.",
            timeout=20_000,
        )
        expect(third.get_by_role("button", name="Dictate")).to_have_attribute("aria-pressed", "false")
        for open_tab in (page, second):
            open_tab.get_by_role("button", name="Stop dictating").click()
            status = open_tab.locator("#dictation")
            expect(status).to_have_attribute("data-closed", "true", timeout=20_000)
            assert int(status.get_attribute("data-credits") or 0) > 0
    assert wait_settled(client, user.headers)["reserved"] == 0
