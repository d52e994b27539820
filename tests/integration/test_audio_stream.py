"""Speech to text over WebSocket, end to end: a real API server (uvicorn), the real ledger on the
Firestore emulator, litellm calling a fake OpenAI-compatible transcription server over HTTP.

The fake answers "[<ms>ms]" for each file it gets, so partial and final texts are exact; with
stt_partial_every_s = 1 every second of audio is one window."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from shared.settings import Settings
from tests.fakes.transcription import FakeTranscription, pcm_seconds, text_for
from tests.support.audio import PRICE, open_stream, recv, rest, send_audio, start
from tests.support.helpers import User, balance, db, drain_to, sign_up, wait_settled
from tests.support.servers import ServerThread

WELCOME = 1_000_000


@pytest.fixture(scope="module")
def stt_api(stt_settings: Settings) -> Iterator[str]:
    from run_services.api.main import create_app

    with ServerThread(create_app(stt_settings)) as server:
        yield server.url


@pytest.fixture
def stt_client(stt_api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stt_api, timeout=30) as c:
        yield c


@pytest.fixture
def stt_user(stt_client: httpx.Client) -> Callable[[], User]:
    import uuid

    def make() -> User:
        return sign_up(stt_client, f"a{uuid.uuid4().hex[:12]}@example.com", "correct horse battery")

    return make


def stt_holds(wallet_id: str) -> list[dict[str, Any]]:
    holds = db().collection("wallets").document(wallet_id).collection("holds").stream()
    return [h.to_dict() or {} for h in holds if h.id.startswith("stt:")]


def test_partials_then_final_charged_per_second(
    stt_api: str, stt_client: httpx.Client, stt_user: Callable[[], User], fake_stt: FakeTranscription
) -> None:
    user = stt_user()
    with open_stream(stt_api, user.headers) as ws:
        started = start(ws, language="en")
        assert started["type"] == "started" and started["model"] == "fake-stt"
        assert started["max_seconds"] == 60 and started["price_per_second"] == PRICE
        assert balance(stt_client, user.headers) == {
            "available": WELCOME - 60 * PRICE,
            "reserved": 60 * PRICE,
        }
        send_audio(ws, 3.5)
        ws.send(json.dumps({"type": "stop"}))
        messages, code = rest(ws)
    second = text_for(1000)
    assert messages == [
        {"type": "partial", "text": second},
        {"type": "partial", "text": f"{second} {second}"},
        {"type": "partial", "text": f"{second} {second} {second}"},
        {"type": "final", "text": text_for(3500), "seconds": 3.5, "credits": 350},
    ]
    assert code == 1000
    assert wait_settled(stt_client, user.headers) == {"available": WELCOME - 350, "reserved": 0}
    [hold] = stt_holds(user.user_id)
    assert hold["state"] == "settled" and hold["charged"] == 350


def test_wav_stream_and_token_in_start_message(
    stt_api: str, stt_client: httpx.Client, stt_user: Callable[[], User]
) -> None:
    import io
    import wave

    user = stt_user()
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(pcm_seconds(2.0, sample_rate=8000))
    data = out.getvalue()
    with open_stream(stt_api) as ws:  # a browser: no Authorization header, the token in the start message
        started = start(ws, encoding="wav", sample_rate=None, token=user.access_token)
        assert started["type"] == "started"
        cuts = [*range(0, 100, 10), *range(100, len(data), 4000), len(data)]  # the header in pieces too
        for a, b in itertools.pairwise(cuts):
            ws.send(data[a:b])
        ws.send(json.dumps({"type": "stop"}))
        messages, code = rest(ws)
    assert [m["type"] for m in messages] == ["partial", "partial", "final"]
    assert messages[-1] == {"type": "final", "text": text_for(2000), "seconds": 2.0, "credits": 200}
    assert code == 1000
    assert wait_settled(stt_client, user.headers) == {"available": WELCOME - 200, "reserved": 0}


def test_disconnect_mid_stream_pays_for_sent_seconds(
    stt_api: str, stt_client: httpx.Client, stt_user: Callable[[], User]
) -> None:
    user = stt_user()
    ws = open_stream(stt_api, user.headers)
    start(ws)
    send_audio(ws, 2.0)
    assert recv(ws)["type"] == "partial"
    assert recv(ws)["type"] == "partial"  # both seconds transcribed
    ws.socket.close()  # gone without a stop or a close frame
    assert wait_settled(stt_client, user.headers) == {"available": WELCOME - 2 * PRICE, "reserved": 0}
    [hold] = stt_holds(user.user_id)
    assert hold["state"] == "settled" and hold["charged"] == 2 * PRICE


def test_stream_past_reserved_maximum_is_ended(
    stt_api: str, stt_client: httpx.Client, stt_user: Callable[[], User], stt_settings: Settings
) -> None:
    user = stt_user()
    drain_to(stt_settings, user.user_id, leave=3 * PRICE)  # the balance pays 3 s (the minimum is 2)
    with open_stream(stt_api, user.headers) as ws:
        assert start(ws)["max_seconds"] == 3
        send_audio(ws, 4.0)
        messages, code = rest(ws)
    assert [m["type"] for m in messages] == ["partial", "partial", "partial", "final", "error"]
    assert messages[3] == {"type": "final", "text": text_for(3000), "seconds": 3.0, "credits": 3 * PRICE}
    assert messages[4]["code"] == "stream_limit_reached"
    assert code == 4413
    assert balance(stt_client, user.headers)["available"] == 0
    [hold] = stt_holds(user.user_id)
    assert hold["state"] == "settled" and hold["charged"] == 3 * PRICE


def test_insufficient_balance_is_refused_with_nothing_reserved(
    stt_api: str, stt_client: httpx.Client, stt_user: Callable[[], User], stt_settings: Settings
) -> None:
    user = stt_user()
    drain_to(stt_settings, user.user_id, leave=2 * PRICE - 1)
    before = balance(stt_client, user.headers)
    with open_stream(stt_api, user.headers) as ws:
        error = start(ws)
        _, code = rest(ws)
    assert error["type"] == "error" and error["code"] == "insufficient_credits"
    assert "2 s of audio" in error["message"]
    assert code == 4402
    assert balance(stt_client, user.headers) == before
    assert stt_holds(user.user_id) == []


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"type": "start", "encoding": "mp3", "sample_rate": 16000}, "bad_start_message"),
        ({"type": "start", "encoding": "pcm16"}, "bad_start_message"),
        ({"type": "start", "encoding": "pcm16", "sample_rate": 16000, "model": "nope"}, "model_not_found"),
        ("not json", "bad_start_message"),
    ],
)
def test_bad_start_message_reserves_nothing(
    stt_api: str, stt_client: httpx.Client, stt_user: Callable[[], User], message: Any, code: str
) -> None:
    user = stt_user()
    with open_stream(stt_api, user.headers) as ws:
        ws.send(message if isinstance(message, str) else json.dumps(message))
        error = recv(ws)
        _, close = rest(ws)
    assert error["type"] == "error" and error["code"] == code, error
    assert close in (4400, 4404)
    assert balance(stt_client, user.headers) == {"available": WELCOME, "reserved": 0}
    assert stt_holds(user.user_id) == []


def test_provider_failure_charges_nothing(
    stt_api: str, stt_client: httpx.Client, stt_user: Callable[[], User], fake_stt: FakeTranscription
) -> None:
    user = stt_user()
    with open_stream(stt_api, user.headers) as ws:
        assert start(ws, model="fake-stt-broken")["type"] == "started"
        send_audio(ws, 1.5)
        messages, code = rest(ws)
    assert [m["type"] for m in messages] == ["error"] and messages[0]["code"] == "transcription_failed"
    assert code == 4502
    assert fake_stt.calls_for("broken")
    assert wait_settled(stt_client, user.headers) == {"available": WELCOME, "reserved": 0}
    [hold] = stt_holds(user.user_id)
    assert hold["state"] == "voided"


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_unauthenticated_is_closed_as_policy_violation(stt_api: str, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with open_stream(stt_api, headers) as ws:
        error = start(ws)
        _, code = rest(ws)
    assert error["type"] == "error" and error["code"] in (
        "missing_credentials",
        "invalid_token",
        "invalid_credentials",
    )
    assert code == 1008
