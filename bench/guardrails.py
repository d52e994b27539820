"""Guardrail latency: the default pre_call on a 4,000-character prompt, and each check alone.

    python -m bench.guardrails [--runs 2000] [--plan free]

Plain stdlib timing (time.perf_counter_ns) in this process, after a warm-up; p50 and p99 in
milliseconds. The prompt is ordinary prose with a little PII in it (an email, a phone number, a card
and a key), so the recognizers find something to mask, as they would in a real call. Aim: the whole
default pre_call under 2 ms p99 (issue 16, item 1).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from shared.guardrails import (
    CallState,
    StreamWindow,
    injection,
    invisible,
    numbers,
    plan_policies,
    recognizers,
    screen_input,
    screen_output,
)
from shared.guardrails.banned import BannedMatcher
from shared.guardrails.policy import validate

_PROSE = (
    "Our quarterly review covers revenue, hiring and the roadmap for the next two releases. The team "
    "shipped the billing migration on time, although two customers reported duplicate invoices that we "
    "refunded within a day. Please draft a summary for the board that explains what went well, what did "
    "not, and what we will change. Keep it under three hundred words and avoid jargon. "
)
_PII = (
    "Contact me at maria.garcia@example.com or +44 20 7946 0958. The test card was 4242 4242 4242 4242 "
    "and the staging key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z. "
)


def prompt(size: int = 4000) -> str:
    text = _PII
    while len(text) < size:
        text += _PROSE
    return text[:size]


def _p50_p99(samples: list[float]) -> tuple[float, float]:
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def measure(fn: Callable[[], object], runs: int) -> tuple[float, float, float, float]:
    """Wall-clock and this thread's CPU time, p50 and p99 each: on a shared machine the wall-clock tail
    is mostly time other processes had the CPU, which the CPU time leaves out."""
    for _ in range(min(200, runs)):
        fn()
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
        fn()
        cpu.append((time.thread_time_ns() - start_cpu) / 1e6)
        wall.append((time.perf_counter_ns() - start) / 1e6)
    return (*_p50_p99(wall), *_p50_p99(cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--plan", default="free")
    args = parser.parse_args()
    policy = plan_policies().for_plan(args.plan)
    text = prompt()
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": text},
    ]
    banned = BannedMatcher.build(
        ["confidential", "internal only", "project nightingale"], [r"\bticket-\d{4,}\b", r"acme\s+corp"]
    )
    output_policy = validate({"checks": {"pii": {"action": "mask", "stages": ["pre_call", "post_call"]}}})

    def stream() -> None:
        window = StreamWindow(output_policy, CallState())
        for i in range(0, len(text), 4):
            window.feed(text[i : i + 4])
        window.finish()

    rows: list[tuple[str, Callable[[], object]]] = [
        (f"pre_call, plan {args.plan} (all default checks)", lambda: screen_input(messages, policy)),
        ("  injection score", lambda: injection.score(text)),
        ("  injection score, retrieved mode", lambda: injection.score(text, retrieved=True)),
        ("  invisible unicode strip", lambda: invisible.remove(text)),
        ("  secrets", lambda: recognizers.scan_secrets(text, min_length=24, threshold=4.0)),
        ("  digit clusters (shared by phone, card, ssn, bd_nid, ip)", lambda: numbers.clusters(text)),
        *[
            (f"  pii: {kind}", lambda k=kind: recognizers.scan_pii(text, (k,)))
            for kind in recognizers.PII_KINDS
        ],
        ("  banned (3 words, 2 patterns)", lambda: list(banned.find(text))),
        ("post_call, whole answer (pii + secrets)", lambda: screen_output(text, output_policy, CallState())),
        ("post_call, stream of 4-char deltas (whole stream)", stream),
    ]
    print(f"prompt: {len(text)} characters; {args.runs} runs each; milliseconds")
    print(f"{'what':<58} {'wall p50':>9} {'wall p99':>9} {'cpu p50':>8} {'cpu p99':>8}")
    for name, fn in rows:
        p50, p99, cpu50, cpu99 = measure(fn, args.runs)
        print(f"{name:<58} {p50:9.3f} {p99:9.3f} {cpu50:8.3f} {cpu99:8.3f}")


if __name__ == "__main__":
    main()
