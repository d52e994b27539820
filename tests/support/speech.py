"""Helpers of the text-to-speech tests: the test catalog and plans, and reading what a call left behind
(holds, usage records). The fixtures are in tests/integration/test_speech*.py."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from google.cloud.firestore_v1.base_query import FieldFilter

from tests.fakes.speech import FakeSpeech
from tests.support.helpers import db

PRICE_PER_MILLION = 15_000_000  # the test models' price: 15 credits a character, tts-1's
PER_CHAR = PRICE_PER_MILLION // 1_000_000
MAX_CHARS = 100
WELCOME = 1_000_000


def media_toml(fake: FakeSpeech) -> str:
    """Speech models on the fake: `litellm_model` names what the fake does (see tests/fakes/speech.py)."""

    def model(name: str, target: str, **extra: str) -> str:
        fields = {
            "provider": '"fake"',
            "litellm_model": f'"openai/{target}"',
            "api_base": f'"{fake.base_url}"',
            "price_per_million_chars": str(PRICE_PER_MILLION),
            "max_input_chars": str(MAX_CHARS),
            "voices": '["alloy", "nova", "Kore"]',
            **extra,
        }
        return f'[[speech]]\nid = "{name}"\n' + "".join(f"{k} = {v}\n" for k, v in fields.items())

    return "\n".join(
        [
            model("fake-tts", "fake-tts"),
            model("fake-tts-mini", "fake-tts-mini", instructions="true"),
            model("fake-tts-slow", "slow"),
            model("fake-tts-broken", "broken"),
            model("fake-tts-cut", "cut"),
            model("fake-tts-pcm", "fake-tts-pcm", formats='["wav", "pcm"]', speed="false"),
            model("fake-tts-off", "fake-tts", provider='"nobody"'),
        ]
    )


def plans_toml(shipped_test_plans: Path) -> str:
    """The test plans plus a few for the speech tests: few requests a minute, a small budget, a plan that
    may call one speech model only."""
    return shipped_test_plans.read_text() + (
        "\n[plans.speech_tiny]\nrequests_per_minute = 3\ntokens_per_minute = 100_000\n"
        "\n[plans.speech_budget]\nrequests_per_minute = 100\ndaily_budget = 100\n"
        "\n[plans.speech_narrow]\nrequests_per_minute = 100\n"
        '\n[plan_billing.speech_narrow]\nallowed_models = ["fake-tts-mini"]\n'
    )


def set_plan(user_id: str, plan: str) -> None:
    db().collection("users").document(user_id).update({"plan": plan})


def speech_holds(wallet_id: str) -> list[dict[str, Any]]:
    holds = db().collection("wallets").document(wallet_id).collection("holds").stream()
    return [h.to_dict() or {} for h in holds if (h.to_dict() or {}).get("ref") == "audio:speech"]


def usage_of(user_id: str) -> list[dict[str, Any]]:
    docs = db().collection("usage").where(filter=FieldFilter("user_id", "==", user_id)).stream()
    return [d.to_dict() or {} for d in docs]


def wait_usage(user_id: str, count: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
    """The user's usage records once there are `count` (written when the stream ends)."""
    deadline = time.monotonic() + timeout
    while True:
        found = usage_of(user_id)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def text(n: int = 40) -> str:
    """A unique input of exactly `n` characters, so the fake's log tells this test's calls apart."""
    base = f"say {uuid.uuid4().hex} "
    return (base * (n // len(base) + 1))[:n]
