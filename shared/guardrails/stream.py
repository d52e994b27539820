"""post_call on a stream: feed the text deltas in, get back text that is safe to emit.

A finding can straddle two deltas ("john.do" + "e@example.com"), so the window holds back the last
`policy.stream_window` characters (at least the longest text any recognizer matches, `MAX_FINDING`)
and only emits text before that. A finding that starts in the emitted part is complete by then (it is
shorter than the window); one that starts before the cut but ends after it moves the cut to its end.
The last `stream_window` emitted characters stay as left context, so a context word ("phone:") or a
look-behind still sees what came before. Scanning waits until `stream_step` new characters have
gathered, so a token-by-token stream costs one scan per step, not per token. `finish()` flushes the
rest at the end of the stream.

A PEM private key can be longer than any window: once its BEGIN line has been masked, everything up
to its END line is swallowed (one placeholder stands for the whole key), whatever the recognizers think
of the lines in between.

If a `block` check fires, the step's verdict says so and nothing more is emitted; the caller cuts the
stream (and charges the tokens produced so far).
"""

from __future__ import annotations

from shared.guardrails.findings import Finding
from shared.guardrails.masking import CallState
from shared.guardrails.pipeline import hits_in, output_spans, rewrite
from shared.guardrails.policy import Policy
from shared.guardrails.recognizers import MAX_FINDING
from shared.guardrails.secrets import PEM_END, is_open_pem
from shared.guardrails.verdict import Blocked, OutputVerdict


class StreamWindow:
    def __init__(self, policy: Policy, state: CallState) -> None:
        self._policy = policy
        self._state = state
        self._window = max(policy.stream_window, MAX_FINDING)
        self._step = policy.stream_step
        self._left = ""  # emitted raw text kept as context
        self._pending = ""  # raw text not emitted yet
        self._blocked: Blocked | None = None
        self._in_key = False  # inside a PEM private key whose BEGIN line was masked

    def __repr__(self) -> str:
        return f"StreamWindow(pending={len(self._pending)}, blocked={self._blocked is not None})"

    @property
    def blocked(self) -> Blocked | None:
        return self._blocked

    def feed(self, delta: str) -> OutputVerdict:
        """Add a delta; returns the text that may be emitted now (often empty)."""
        if self._blocked is not None:
            return OutputVerdict(self._blocked, (), "")
        self._pending += delta
        if len(self._pending) < self._window + self._step:
            return OutputVerdict(None, (), "")
        return self._flush(final=False)

    def finish(self) -> OutputVerdict:
        """The end of the stream: everything still held back, screened."""
        if self._blocked is not None:
            return OutputVerdict(self._blocked, (), "")
        return self._flush(final=True)

    def _skip_key(self, *, final: bool) -> bool:
        """Drop the body of an open private key; True while its END line has not come yet."""
        end = PEM_END.search(self._pending)
        if end is None and not final:
            self._pending = self._pending[-40:]  # the END line may be arriving split
            return True
        self._pending = self._pending[end.end() if end else len(self._pending) :]
        self._left = ""
        self._in_key = False
        return False

    def _flush(self, *, final: bool) -> OutputVerdict:
        if self._in_key and self._skip_key(final=final):
            return OutputVerdict(None, (), "")
        text = self._left + self._pending
        offset = len(self._left)
        blocked, spans, tagged = output_spans(text, self._policy, self._state)
        if blocked is not None:
            self._blocked = blocked
            self._pending = ""
            return OutputVerdict(blocked, (), "")
        cut = len(text) if final else len(text) - self._window
        todo: list[Finding] = []
        for span in spans:
            if span.end <= offset or span.start >= cut:
                continue  # already emitted, or for a later step (it may still grow)
            # A span reaching back into emitted text was longer than the window: mask what is left.
            todo.append(span if span.start >= offset else Finding(span.kind, offset, span.end, span.priority))
            cut = max(cut, span.end)
            if span.kind == "secret" and is_open_pem(text[span.start : span.end]):
                self._in_key = True
                cut = span.end  # emit up to the BEGIN line's placeholder, swallow the key after it
                break
        emit = rewrite(text[:cut], todo, self._state)[offset:] if todo else text[offset:cut]
        self._left = text[max(0, cut - self._window) : cut]
        self._pending = text[cut:]
        # Each finding is counted once, in the step that emits it (the window rescans what it holds back).
        hits = hits_in(tagged, offset, cut)
        if self._in_key and final:
            rest = self._flush(final=True)  # skip the key, then screen what follows it
            return OutputVerdict(rest.blocked, hits + rest.hits, emit + rest.text)
        return OutputVerdict(None, hits, emit)
