"""The guardrail entry points: `screen_input` before the call, `screen_output` after it (and
`StreamWindow` in stream.py for streams), `restore` for masked values.

pre_call runs the checks in a fixed order, cheapest and most decisive first: limits, banned, injection,
secrets, pii. The first check whose action is `block` and that fires ends the screening: the verdict
names it and its kinds, and no messages are produced. `mask` findings of all checks are collected per
text, overlaps resolved, and replaced by placeholders in one pass. `log_only` only counts.

Roles: every message is checked for limits, banned words, secrets and PII. Injection is scored on
`user` messages, and in `retrieved` mode on `tool`/`function` messages (tool results); system,
developer and assistant messages are the caller's own and are not scored ("You are now a helpful
assistant" is a normal system prompt).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shared.guardrails import injection, invisible, messages, recognizers
from shared.guardrails.findings import Finding, resolve
from shared.guardrails.masking import PLACEHOLDER, CallState, apply
from shared.guardrails.policy import Action, Policy, Stage
from shared.guardrails.verdict import Blocked, Hit, OutputVerdict, Verdict

_RETRIEVED_ROLES = frozenset({"tool", "function"})
_SCORED_ROLES = frozenset({"user"}) | _RETRIEVED_ROLES


def _hits(check: str, action: Action, kinds: Iterable[str]) -> list[Hit]:
    return [Hit(check, kind, count, action) for kind, count in sorted(Counter(kinds).items())]


def _findings(check: str, text: str, policy: Policy) -> list[Finding]:
    checks = policy.checks
    if check == "banned":
        return list(checks.banned.matcher.find(text))
    if check == "secrets":  # a prefixed key is also a high-entropy token: one finding per stretch
        return resolve(
            recognizers.scan_secrets(
                text, min_length=checks.secrets.min_length, threshold=checks.secrets.entropy_threshold
            )
        )
    return resolve(recognizers.scan_pii(text, checks.pii.kinds))


def _limits(msgs: Sequence[Mapping[str, Any]], segs: Sequence[messages.Segment], policy: Policy) -> list[str]:
    limits = policy.checks.limits
    kinds: list[str] = []
    if limits.max_messages and len(msgs) > limits.max_messages:
        kinds.append("max_messages")
    if limits.max_chars_per_message:
        per_message: Counter[int] = Counter()
        for seg in segs:
            per_message[seg.index] += len(seg.text)
        if any(n > limits.max_chars_per_message for n in per_message.values()):
            kinds.append("max_chars_per_message")
    return kinds


def screen_input(
    msgs: Sequence[Mapping[str, Any]], policy: Policy, *, state: CallState | None = None
) -> Verdict:
    """Screen a request's messages (OpenAI shape) before anything is reserved or sent."""
    state = state or CallState()
    checks = policy.checks
    segs = messages.segments(msgs)
    hits: list[Hit] = []

    def blocked(check: str, kinds: Iterable[str], score: float = 0.0) -> Verdict:
        found = tuple(sorted(set(kinds)))
        return Verdict(Blocked(check, found, "pre_call"), tuple(hits), score, list(msgs), state)

    if checks.limits.runs("pre_call"):
        over = _limits(msgs, segs, policy)
        if over and checks.limits.action == "block":
            return blocked("limits", over)
        hits += _hits("limits", checks.limits.action, over)

    score = 0.0
    if checks.injection.runs("pre_call"):
        rules: list[str] = []
        for seg in segs:
            if seg.role in _SCORED_ROLES:
                result = injection.score(seg.text, retrieved=seg.role in _RETRIEVED_ROLES)
                if result.score >= checks.injection.threshold:
                    rules.extend(result.rules)
                score = max(score, result.score)
        if rules and checks.injection.action == "block":
            return blocked("injection", rules, score)
        hits += _hits("injection", checks.injection.action, rules)

    strip = checks.injection.enabled and checks.injection.strip_invisible
    texts = [invisible.remove(seg.text) if strip else seg.text for seg in segs]
    stripped = any(t is not seg.text and t != seg.text for t, seg in zip(texts, segs, strict=True))
    for text in texts:
        state.reserve(text)

    to_mask: list[list[Finding]] = [[] for _ in segs]
    for check in ("banned", "secrets", "pii"):
        conf = getattr(checks, check)
        if not conf.runs("pre_call"):
            continue
        kinds: list[str] = []
        for i, text in enumerate(texts):
            found = _findings(check, text, policy)
            kinds.extend(f.kind for f in found)
            if conf.action == "mask":
                to_mask[i].extend(found)
        if "timeout" in kinds and conf.action != "log_only":
            return blocked(check, ["timeout"], score)  # a pattern that ran too long: fail closed
        if kinds and conf.action == "block":
            return blocked(check, kinds, score)
        hits += _hits(check, conf.action, kinds)

    changes: dict[tuple[int, int | None], str] = {}
    for seg, text, found in zip(segs, texts, to_mask, strict=True):
        if found:
            text = apply(text, resolve(f for f in found if f.end > f.start), state, restorable=True)
        if text != seg.text:
            changes[(seg.index, seg.part)] = text
    out = messages.replaced(msgs, changes) if changes else list(msgs)
    return Verdict(None, tuple(hits), score, out, state, messages_stripped=stripped)


_PLACEHOLDER_KIND = "placeholder"


Tagged = tuple[str, Action, Finding]


def output_spans(
    text: str, policy: Policy, state: CallState, stage: Stage = "post_call"
) -> tuple[Blocked | None, list[Finding], list[Tagged]]:
    """What to change in model output: the post_call checks' mask findings and this call's placeholders
    to restore (resolved, in order), every finding with its check and action (for hits); or the check
    that blocks it."""
    checks = policy.checks
    tagged: list[Tagged] = []
    spans: list[Finding] = []
    for check in ("banned", "secrets", "pii"):
        conf = getattr(checks, check)
        if not conf.runs(stage):
            continue
        found = _findings(check, text, policy)
        if found and (
            conf.action == "block" or (conf.action == "mask" and any(f.kind == "timeout" for f in found))
        ):
            return Blocked(check, tuple(sorted({f.kind for f in found})), stage), [], tagged
        tagged.extend((check, conf.action, f) for f in found)
        if conf.action == "mask":
            spans.extend(f for f in found if f.end > f.start)
    if policy.restore_output and "[" in text:
        spans.extend(Finding(_PLACEHOLDER_KIND, m.start(), m.end(), 100) for m in PLACEHOLDER.finditer(text))
    return None, resolve(spans), tagged


def hits_in(tagged: Iterable[Tagged], start: int = 0, end: int | None = None) -> tuple[Hit, ...]:
    """Hits for the findings that start in [start, end)."""
    counts = Counter(
        (check, action, f.kind)
        for check, action, f in tagged
        if start <= f.start and (end is None or f.start < end)
    )
    return tuple(Hit(check, kind, n, action) for (check, action, kind), n in sorted(counts.items()))


def rewrite(text: str, spans: Iterable[Finding], state: CallState) -> str:
    """The output with findings masked (not restorable: the model produced them) and placeholders restored."""
    out: list[str] = []
    pos = 0
    for f in spans:
        out.append(text[pos : f.start])
        piece = text[f.start : f.end]
        if f.kind == _PLACEHOLDER_KIND:
            out.append(state.original(piece) or piece)
        else:
            out.append(state.placeholder(f.kind, piece, restorable=False))
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def screen_output(text: str, policy: Policy, state: CallState) -> OutputVerdict:
    """Screen a whole (non-streamed) answer: block, or mask what the post_call checks find and restore
    this call's placeholders when the policy says so."""
    blocked, spans, tagged = output_spans(text, policy, state)
    if blocked is not None:
        return OutputVerdict(blocked, (), "")
    return OutputVerdict(None, hits_in(tagged), rewrite(text, spans, state) if spans else text)


def restore(text: str, state: CallState) -> str:
    """Put this call's masked input values back into a text (e.g. a stored answer)."""
    return state.restore(text)
