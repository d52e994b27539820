"""Text to speech, end to end: a real API server (uvicorn), the real ledger on the Firestore emulator,
Redis for rate limits and budgets, litellm calling a scripted OpenAI-compatible speech server over HTTP
(tests/fakes/speech.py). The audio streams through as the fake sends it; the price of the characters is
what the headers say, what the ledger moves and what the usage record holds."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from shared.ledger.wallet_ids import workspace_wallet_base
from shared.settings import Settings
from tests.fakes.speech import CHUNKS, MAGIC, SLOW_DELAY_S, FakeSpeech, audio_for
from tests.support.helpers import (
    User,
    assert_error,
    balance,
    drain_to,
    grant_credits,
    sign_up,
    wait_settled,
)
from tests.support.servers import ServerThread
from tests.support.speech import (
    MAX_CHARS,
    PER_CHAR,
    WELCOME,
    media_toml,
    plans_toml,
    set_plan,
    speech_holds,
    text,
    usage_of,
    wait_usage,
)
from tests.support.workspaces import create, join


@pytest.fixture(scope="module")
def fake_speech() -> Iterator[FakeSpeech]:
    fake = FakeSpeech()
    with ServerThread(fake.app) as server:
        fake.base_url = f"{server.url}/v1"
        yield fake


@pytest.fixture(scope="module")
def speech_settings(
    settings: Settings, plans_file: Path, fake_speech: FakeSpeech, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    folder = tmp_path_factory.mktemp("speech")
    (folder / "media.toml").write_text(media_toml(fake_speech))
    (folder / "plans.toml").write_text(plans_toml(plans_file))
    return settings.model_copy(
        update={
            "media_catalog_path": folder / "media.toml",
            "plans_path": folder / "plans.toml",
            "plan_cache_s": 0,  # a plan set in Firestore applies at once
        }
    )


@pytest.fixture(scope="module")
def speech_api(speech_settings: Settings) -> Iterator[str]:
    from run_services.api.main import create_app

    with ServerThread(create_app(speech_settings)) as server:
        yield server.url


@pytest.fixture
def api(speech_api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=speech_api, timeout=30) as c:
        yield c


@pytest.fixture
def user(api: httpx.Client) -> User:
    return sign_up(api, f"tts{uuid.uuid4().hex[:12]}@example.com")


def speak(api: httpx.Client, user: User, **fields: Any) -> httpx.Response:
    body = {"model": "fake-tts", "voice": "alloy", "input": text(), **fields}
    return api.post("/v1/audio/speech", json=body, headers=user.headers)


def test_audio_streams_as_made_and_the_charge_is_the_same_everywhere(
    api: httpx.Client, user: User, fake_speech: FakeSpeech
) -> None:
    words = text(57)
    price = 57 * PER_CHAR
    body = {"model": "fake-tts-slow", "voice": "nova", "input": words}
    arrivals: list[tuple[float, int]] = []
    with api.stream("POST", "/v1/audio/speech", json=body, headers=user.headers) as response:
        assert response.status_code == 200
        headers = response.headers
        received = b""
        for chunk in response.iter_raw():
            arrivals.append((time.monotonic(), len(chunk)))
            received += chunk
    assert received == b"".join(audio_for(words, "mp3"))
    [call] = fake_speech.calls_for(words)
    assert call.finished is not None
    # The first bytes were here while the fake still had three pieces (SLOW_DELAY_S apart) to send:
    # buffered, they would arrive after its last one.
    timeline = (call.started, [round(t - call.started, 3) for t, _ in arrivals], call.finished - call.started)
    assert arrivals[0][0] < call.finished - SLOW_DELAY_S, timeline
    assert len(arrivals) >= CHUNKS - 1, timeline
    assert call.body["model"] == "slow" and call.body["voice"] == "nova"

    assert headers["content-type"] == "audio/mpeg"
    assert headers["x-credits-charged"] == str(price)
    assert headers["x-cost-usd"] == f"{price / 1_000_000:.6f}"
    assert headers["x-model"] == "fake-tts-slow" and headers["x-provider"] == "fake"
    assert "x-ratelimit-remaining-requests" in headers
    assert wait_settled(api, user.headers) == {"available": WELCOME - price, "reserved": 0}
    [hold] = speech_holds(user.user_id)
    assert hold["state"] == "settled" and hold["charged"] == price
    [record] = wait_usage(user.user_id)
    assert record["request_id"] == headers["x-request-id"]
    assert record["hold_id"] and record["feature"] == "speech"
    assert record["credits"] == price and record["characters"] == 57
    assert record["outcome"] == "completed" and record["model"] == "fake-tts-slow"
    assert record["bytes"] == len(received) and record["voice"] == "nova"


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("mp3", "audio/mpeg"),
        ("opus", "audio/opus"),
        ("aac", "audio/aac"),
        ("flac", "audio/flac"),
        ("wav", "audio/wav"),
        ("pcm", "audio/pcm"),
    ],
)
def test_each_format_has_its_content_type(
    api: httpx.Client, user: User, fake_speech: FakeSpeech, fmt: str, content_type: str
) -> None:
    words = text()
    response = speak(api, user, input=words, response_format=fmt)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == content_type
    assert response.content == b"".join(audio_for(words, fmt))
    assert response.content.startswith(MAGIC[fmt])
    assert fake_speech.calls_for(words)[0].body["response_format"] == fmt


def test_default_format_is_mp3_and_speed_and_instructions_reach_the_provider(
    api: httpx.Client, user: User, fake_speech: FakeSpeech
) -> None:
    words = text()
    response = speak(
        api, user, model="fake-tts-mini", input=words, speed=1.5, instructions="Cheerful, quick."
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/mpeg"
    sent = fake_speech.calls_for(words)[0].body
    assert sent["response_format"] == "mp3"
    assert sent["speed"] == 1.5 and sent["instructions"] == "Cheerful, quick."
    # A model that takes no speed is still called at speed 1.0 (sent as nothing); voices match any case.
    words = text()
    plain = speak(
        api, user, model="fake-tts-pcm", voice="kore", input=words, response_format="wav", speed=1.0
    )
    assert plain.status_code == 200, plain.text
    sent = fake_speech.calls_for(words)[0].body
    assert "speed" not in sent and sent["voice"] == "Kore"


def test_the_official_openai_sdk_streams_it(speech_api: str, user: User, fake_speech: FakeSpeech) -> None:
    client = openai.OpenAI(base_url=f"{speech_api}/v1", api_key=user.access_token, max_retries=0)
    words = text(64)
    with client.audio.speech.with_streaming_response.create(
        model="fake-tts", voice="alloy", input=words, response_format="wav"
    ) as response:
        assert response.headers["content-type"] == "audio/wav"
        assert response.headers["x-credits-charged"] == str(64 * PER_CHAR)
        pieces = list(response.iter_bytes())
    assert b"".join(pieces) == b"".join(audio_for(words, "wav"))
    # And the plain call (the whole body read) works too.
    whole = client.audio.speech.create(model="fake-tts", voice="alloy", input=words)
    assert whole.content == b"".join(audio_for(words, "mp3"))
    with pytest.raises(openai.BadRequestError) as refused:
        client.audio.speech.create(model="fake-tts", voice="alloy", input="x" * (MAX_CHARS + 1))
    assert refused.value.code == "input_too_long"
    with pytest.raises(openai.NotFoundError):
        client.audio.speech.create(model="tts-nope", voice="alloy", input="hello")


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"input": "x" * (MAX_CHARS + 1)}, 400, "input_too_long"),
        ({"input": ""}, 400, "empty_input"),
        ({"input": "   \n "}, 400, "empty_input"),
        ({"voice": "robot"}, 400, "unsupported_voice"),
        ({"voice": {"id": "voice_1234"}}, 400, "unsupported_voice"),
        ({"response_format": "ogg"}, 400, "unsupported_response_format"),
        ({"model": "fake-tts-pcm", "response_format": "mp3"}, 400, "unsupported_response_format"),
        ({"speed": 4.5}, 400, "invalid_speed"),
        ({"speed": 0.1}, 400, "invalid_speed"),
        ({"model": "fake-tts-pcm", "response_format": "wav", "speed": 2.0}, 400, "speed_not_supported"),
        ({"instructions": "whisper"}, 400, "instructions_not_supported"),
        ({"model": "fake-tts-mini", "instructions": "x" * 5000}, 400, "instructions_too_long"),
        ({"stream_format": "sse"}, 400, "unsupported_parameter"),
        ({"temperature": 0.5}, 400, "unsupported_parameter"),
        ({"speed": "fast"}, 422, "invalid_request"),
        ({"model": "tts-nope"}, 404, "model_not_found"),
        ({"model": "fake-tts-off"}, 404, "model_not_found"),
    ],
)
def test_bad_input_is_refused_with_nothing_held_charged_or_recorded(
    api: httpx.Client, user: User, fake_speech: FakeSpeech, fields: dict[str, Any], status: int, code: str
) -> None:
    words = fields.pop("input", text())
    response = speak(api, user, input=words, **fields)
    assert_error(response, status, code)
    assert balance(api, user.headers) == {"available": WELCOME, "reserved": 0}
    assert speech_holds(user.user_id) == []
    assert usage_of(user.user_id) == []
    assert not fake_speech.calls_for(words)


def test_a_model_outside_the_plan_is_403(api: httpx.Client, user: User) -> None:
    set_plan(user.user_id, "speech_narrow")
    assert_error(speak(api, user), 403, "model_not_in_plan")
    assert speech_holds(user.user_id) == []
    assert speak(api, user, model="fake-tts-mini").status_code == 200


def test_a_flood_is_429_and_the_refused_call_charges_nothing(api: httpx.Client, user: User) -> None:
    set_plan(user.user_id, "speech_tiny")  # 3 requests a minute
    for _ in range(3):
        assert speak(api, user).status_code == 200
    refused = speak(api, user)
    assert_error(refused, 429, "requests_per_minute_exceeded")
    assert int(refused.headers["retry-after"]) >= 1
    assert wait_settled(api, user.headers) == {"available": WELCOME - 3 * 40 * PER_CHAR, "reserved": 0}
    assert len(speech_holds(user.user_id)) == 3
    assert len(wait_usage(user.user_id, 3)) == 3


def test_a_call_over_the_budget_is_402_with_nothing_held(api: httpx.Client, user: User) -> None:
    set_plan(user.user_id, "speech_budget")  # 100 credits a day: 6 characters
    assert_error(speak(api, user, input="x" * 7), 402, "budget_exceeded")
    assert speech_holds(user.user_id) == [] and usage_of(user.user_id) == []
    assert speak(api, user, input="x" * 6).status_code == 200


def test_insufficient_credits_is_402_and_nothing_changes(
    api: httpx.Client, user: User, speech_settings: Settings, fake_speech: FakeSpeech
) -> None:
    drain_to(speech_settings, user.user_id, leave=40 * PER_CHAR - 1)
    before = balance(api, user.headers)
    words = text(40)
    assert_error(speak(api, user, input=words), 402, "insufficient_credits")
    assert balance(api, user.headers) == before
    assert speech_holds(user.user_id) == [] and usage_of(user.user_id) == []
    assert not fake_speech.calls_for(words)
    # One character fewer fits the balance exactly.
    assert speak(api, user, input=text(39)).status_code == 200
    assert wait_settled(api, user.headers)["available"] == PER_CHAR - 1


def test_a_provider_failure_before_any_byte_is_an_error_and_charges_nothing(
    api: httpx.Client, user: User, fake_speech: FakeSpeech
) -> None:
    words = text()
    response = speak(api, user, model="fake-tts-broken", input=words)
    assert_error(response, 502, "provider_error")
    assert fake_speech.calls_for(words)  # it was asked (and retried once)
    assert balance(api, user.headers) == {"available": WELCOME, "reserved": 0}
    [hold] = speech_holds(user.user_id)
    assert hold["state"] == "voided"
    [record] = wait_usage(user.user_id)
    assert record["credits"] == 0 and record["outcome"] == "provider_failed"


def test_a_provider_cut_mid_body_cuts_the_client_and_charges_nothing(
    api: httpx.Client, user: User, fake_speech: FakeSpeech
) -> None:
    words = text()
    received: list[bytes] = []
    body = {"model": "fake-tts-cut", "voice": "alloy", "input": words}
    with api.stream("POST", "/v1/audio/speech", json=body, headers=user.headers) as response:
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):  # no clean end of body: the client knows
            received.extend(response.iter_raw())
    assert b"".join(received) == b"".join(audio_for(words)[:2])  # what the fake sent before it dropped
    assert wait_settled(api, user.headers) == {"available": WELCOME, "reserved": 0}
    [hold] = speech_holds(user.user_id)
    assert hold["state"] == "voided"
    [record] = wait_usage(user.user_id)
    assert record["credits"] == 0 and record["outcome"] == "provider_cut"
    assert record["error_code"] == "speech_interrupted"


def test_a_client_leaving_mid_stream_pays_in_full_and_the_upstream_is_stopped(
    api: httpx.Client, user: User, fake_speech: FakeSpeech
) -> None:
    words = text(50)
    price = 50 * PER_CHAR
    with api.stream(
        "POST",
        "/v1/audio/speech",
        json={"model": "fake-tts-slow", "voice": "alloy", "input": words},
        headers=user.headers,
    ) as response:
        assert response.status_code == 200
        assert next(response.iter_raw())  # the first piece, then the client goes away
    assert wait_settled(api, user.headers) == {"available": WELCOME - price, "reserved": 0}
    [hold] = speech_holds(user.user_id)
    assert hold["state"] == "settled" and hold["charged"] == price
    [record] = wait_usage(user.user_id)
    assert record["outcome"] == "client_disconnected" and record["credits"] == price
    time.sleep(CHUNKS * SLOW_DELAY_S + 0.5)  # long enough for the fake to have sent everything
    [call] = fake_speech.calls_for(words)
    assert call.finished is None and call.pieces_sent < CHUNKS


def test_a_workspace_member_speaks_on_the_workspace_wallet(
    api: httpx.Client, user: User, speech_settings: Settings
) -> None:
    member = sign_up(api, f"tts{uuid.uuid4().hex[:12]}@example.com")
    ws = create(api, user)["id"]
    join(api, user, ws, member)
    grant_credits(
        speech_settings, workspace_wallet_base(ws), 100_000, shards=speech_settings.workspace_wallet_shards
    )
    price = 40 * PER_CHAR
    headers = {**member.headers, "X-Workspace-ID": ws}
    response = api.post(
        "/v1/audio/speech", json={"model": "fake-tts", "voice": "alloy", "input": text(40)}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-credits-charged"] == str(price)
    [record] = wait_usage(member.user_id)
    assert record["workspace_id"] == ws and record["credits"] == price
    assert record["wallet_id"].startswith(workspace_wallet_base(ws))
    [hold] = speech_holds(record["wallet_id"])
    assert hold["state"] == "settled" and hold["charged"] == price
    assert balance(api, member.headers) == {"available": WELCOME, "reserved": 0}  # their own: untouched
    outsider = api.post(
        "/v1/audio/speech",
        json={"model": "fake-tts", "voice": "alloy", "input": "hi"},
        headers={**sign_up(api).headers, "X-Workspace-ID": ws},
    )
    assert_error(outsider, 404, "workspace_not_found")
