"""Guardrails: screen what goes into a model call and what comes out (issue 16, item 1).

Offline, in process, regex and checksum recognizers only (no NLP model). The entry points:

    policy = plan_policies().for_plan(plan)            # or merge(plan_policy, workspace_override)
    verdict = screen_input(messages, policy)           # pre_call, before anything is reserved
    if verdict.blocked: raise verdict.blocked.error()  # 400 guardrail_blocked, nothing charged
    ... call the provider with verdict.messages ...
    out = screen_output(answer_text, policy, verdict.state)      # post_call, whole answer
    window = StreamWindow(policy, verdict.state)                 # post_call, stream: feed()/finish()

Nothing here logs, and no exception or repr carries prompt or output text.
"""

from shared.guardrails.errors import GuardrailBlocked, PolicyError
from shared.guardrails.masking import CallState
from shared.guardrails.pipeline import restore, screen_input, screen_output
from shared.guardrails.policy import PlanPolicies, Policy, merge, plan_policies, validate
from shared.guardrails.stream import StreamWindow
from shared.guardrails.verdict import Blocked, Hit, OutputVerdict, Verdict

__all__ = [
    "Blocked",
    "CallState",
    "GuardrailBlocked",
    "Hit",
    "OutputVerdict",
    "PlanPolicies",
    "Policy",
    "PolicyError",
    "StreamWindow",
    "Verdict",
    "merge",
    "plan_policies",
    "restore",
    "screen_input",
    "screen_output",
    "validate",
]
