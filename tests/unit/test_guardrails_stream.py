"""StreamWindow: a stream screened in windows gives the same text as the whole answer screened at once,
however the deltas split it, and nothing sensitive is emitted before a block."""

from __future__ import annotations

import random

import pytest

from shared.guardrails import CallState, StreamWindow, screen_input, screen_output, validate
from shared.guardrails.recognizers import MAX_FINDING

POLICY = validate(
    {
        "checks": {
            "pii": {"action": "mask", "stages": ["pre_call", "post_call"]},
            "secrets": {"action": "mask", "stages": ["pre_call", "post_call"]},
        }
    }
)
FILLER = "The quick brown fox jumps over the lazy dog. "
ANSWER = (
    FILLER * 8
    + "Write to [EMAIL_1] or to boss@corp.example.com, call +44 20 7946 0958. "
    + FILLER * 3
    + "Card 4242 4242 4242 4242, IBAN GB82 WEST 1234 5698 7654 32, "
    + "key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z. "
    + FILLER * 9
    + "Last: [EMAIL_1] at 10.0.0.1"
)


def fresh_state() -> CallState:
    return screen_input([{"role": "user", "content": "I am maria@example.com"}], POLICY).state


def stream(text: str, cuts: list[int], state: CallState) -> str:
    window = StreamWindow(POLICY, state)
    out: list[str] = []
    last = 0
    for cut in [*cuts, len(text)]:
        step = window.feed(text[last:cut])
        assert step.blocked is None
        out.append(step.text)
        last = cut
    end = window.finish()
    assert end.blocked is None
    out.append(end.text)
    return "".join(out)


def expected() -> str:
    return screen_output(ANSWER, POLICY, fresh_state()).text


def test_the_whole_answer_is_masked_and_restored() -> None:
    text = expected()
    assert "maria@example.com" in text and "boss@corp" not in text and "4242" not in text
    assert "[EMAIL_2]" in text and "[PHONE_1]" in text and "[CARD_1]" in text and "[IBAN_1]" in text
    assert "[SECRET_1]" in text and "[IP_1]" in text


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 16, 64, 333, 10_000])
def test_fixed_size_deltas(size: int) -> None:
    cuts = list(range(size, len(ANSWER), size))
    assert stream(ANSWER, cuts, fresh_state()) == expected()


@pytest.mark.parametrize("seed", range(20))
def test_random_deltas(seed: int) -> None:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(ANSWER)), rng.randint(1, 200)))
    assert stream(ANSWER, cuts, fresh_state()) == expected()


@pytest.mark.parametrize(
    "needle", ["boss@corp.example.com", "[EMAIL_1]", "4242 4242 4242 4242", "+44 20 7946 0958", "10.0.0.1"]
)
def test_every_split_point_inside_a_finding(needle: str) -> None:
    start = ANSWER.index(needle)
    for offset in range(1, len(needle)):
        assert stream(ANSWER, [start + offset], fresh_state()) == expected(), (needle, offset)


def test_text_is_held_back_only_by_the_window() -> None:
    window = StreamWindow(POLICY, CallState())
    emitted = ""
    text = FILLER * 40
    for i, ch in enumerate(text):
        emitted += window.feed(ch).text
        assert i + 1 - len(emitted) < POLICY.stream_window + POLICY.stream_step
    assert emitted + window.finish().text == text
    assert POLICY.stream_window >= MAX_FINDING


def test_hits_are_counted_once() -> None:
    window = StreamWindow(POLICY, fresh_state())
    counts: dict[str, int] = {}
    for i in range(0, len(ANSWER), 5):
        for hit in window.feed(ANSWER[i : i + 5]).hits:
            counts[hit.kind] = counts.get(hit.kind, 0) + hit.count
    for hit in window.finish().hits:
        counts[hit.kind] = counts.get(hit.kind, 0) + hit.count
    assert counts == {"email": 1, "phone": 1, "card": 1, "iban": 1, "secret": 1, "ip": 1}


def test_a_block_stops_the_stream_before_the_secret_is_emitted() -> None:
    policy = validate({"checks": {"secrets": {"action": "block", "stages": ["post_call"]}}})
    window = StreamWindow(policy, CallState())
    key = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
    text = FILLER * 10 + f"the key is {key} " + FILLER * 10
    emitted = ""
    blocked = None
    for i in range(0, len(text), 3):
        step = window.feed(text[i : i + 3])
        emitted += step.text
        if step.blocked:
            blocked = step.blocked
            break
    assert blocked is not None and blocked.check == "secrets" and blocked.stage == "post_call"
    assert key[:8] not in emitted
    assert window.feed("more").text == "" and window.finish().blocked == blocked
    assert "pending" in repr(window) and key not in repr(window)


def test_an_empty_stream() -> None:
    window = StreamWindow(POLICY, CallState())
    assert window.feed("").text == "" and window.finish().text == ""


def test_a_private_key_longer_than_the_window_is_never_emitted() -> None:
    rng = random.Random(7)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    lines = ["".join(rng.choice(alphabet) for _ in range(64)) for _ in range(25)]
    pem = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----"
    text = FILLER * 3 + pem + "\n" + FILLER * 3
    assert len(pem) > POLICY.stream_window * 4
    for size in (1, 5, 50):
        out = stream(text, list(range(size, len(text), size)), CallState())
        assert all(line not in out for line in lines)
        assert "PRIVATE KEY-----" not in out.replace("[SECRET_", "")
        assert out.startswith(FILLER * 3) and out.endswith(FILLER * 3)
