"""The native lane's pure parts: which deployments it takes, the body it sends, the SSE reader, the
chunk parser and the error mapping (the lanes' parity over HTTP is tests/integration/
test_gateway_native_parity.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from shared.catalog.catalog import Deployment
from shared.gateway.errors import translate
from shared.gateway.native.body import request_body, without_unprocessable
from shared.gateway.native.errors import ProviderError, mid_stream, status_error, transport_error
from shared.gateway.native.parse import answer_of, delta_of, usage_of
from shared.gateway.native.sse import DONE, EventTooLarge, events
from shared.gateway.native.wire import wire_for
from shared.gateway.retry import classify
from shared.gateway.types import ToolCallDelta

pytestmark = pytest.mark.anyio

ALL = frozenset({"openai", "xai", "deepseek", "openrouter", "groq", "together_ai", "fireworks_ai"})


def deployment(model: str, api_base: str | None = None, **extra: object) -> Deployment:
    return Deployment(id="m@p#0", model="m", provider="p", litellm_model=model, api_base=api_base, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model", "base", "url", "name"),
    [
        ("openai/gpt-4o-mini", None, "https://api.openai.com/v1/chat/completions", "gpt-4o-mini"),
        (
            "openai/smollm2",
            "http://127.0.0.1:8080/v1/",
            "http://127.0.0.1:8080/v1/chat/completions",
            "smollm2",
        ),
        ("xai/grok-4", None, "https://api.x.ai/v1/chat/completions", "grok-4"),
        ("deepseek/deepseek-chat", None, "https://api.deepseek.com/beta/chat/completions", "deepseek-chat"),
        (
            "openrouter/meta-llama/llama-3.3-70b-instruct",
            None,
            "https://openrouter.ai/api/v1/chat/completions",
            "meta-llama/llama-3.3-70b-instruct",
        ),
        (
            "fireworks_ai/llama-v3p1-8b-instruct",
            None,
            "https://api.fireworks.ai/inference/v1/chat/completions",
            "accounts/fireworks/models/llama-v3p1-8b-instruct",
        ),
    ],
)
def test_openai_wire_deployments_take_the_native_lane(
    model: str, base: str | None, url: str, name: str
) -> None:
    wire = wire_for(deployment(model, base), ALL)
    assert wire is not None and (wire.url, wire.model) == (url, name)
    assert ("authorization", "Bearer no-key") in wire.headers


@pytest.mark.parametrize(
    "model",
    [
        "anthropic/claude-sonnet-4",
        "gemini/gemini-2.5-flash",
        "vertex_ai/gemini-2.5-flash",
        "openai/o3",
        "openai/gpt-5",
    ],
)
def test_translated_providers_and_rewritten_models_stay_on_litellm(model: str) -> None:
    assert wire_for(deployment(model), ALL) is None


def test_a_deployment_with_provider_params_or_a_provider_left_out_stays_on_litellm() -> None:
    assert wire_for(deployment("openai/gpt-4o", params=(("organization", "x"),)), ALL) is None
    assert wire_for(deployment("xai/grok-4"), frozenset({"openai"})) is None


def test_the_body_drops_what_the_model_does_not_take_and_strips_cache_control_on_hosted_endpoints() -> None:
    wire = wire_for(deployment("xai/grok-4"), ALL)
    assert wire is not None
    messages = [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "x"}}]}]
    params = {"temperature": 0.5, "stop": ["x"], "tools": [{"type": "function"}], "user": None}
    body = request_body(wire, messages, 7, params, stream=True)
    assert body["max_tokens"] == 7 and body["temperature"] == 0.5 and "stop" not in body  # xai takes no stop
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert body["stream_options"] == {"include_usage": True} and "user" not in body
    local = wire_for(deployment("openai/smollm2", "http://127.0.0.1:1/v1"), ALL)
    assert local is not None and request_body(local, messages, 7, {}, stream=False)["messages"] is messages


def test_a_422_naming_parameters_drops_them() -> None:
    detail = orjson.dumps({"detail": [{"loc": ["body", "logit_bias"], "msg": "x"}]}).decode()
    error = orjson.dumps({"error": {"message": detail}})
    assert without_unprocessable({"model": "m", "logit_bias": {}}, error) == {"model": "m"}
    assert without_unprocessable({"model": "m"}, b"not json") == {"model": "m"}


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_sse_events_are_read_across_chunk_boundaries_with_comments_and_crlf() -> None:
    stream = chunks(
        b": OPENROUTER PROCESSING\n\nda", b'ta: {"a":1}\r\n\r\nevent: x\ndata: 2\n', b"\ndata: [DONE]"
    )
    assert [e async for e in events(stream)] == [b'{"a":1}', b"2", DONE]


async def test_sse_joins_the_data_lines_of_one_event() -> None:
    assert [e async for e in events(chunks(b"data: a\ndata: b\n\n"))] == [b"a\nb"]


async def test_sse_holds_at_most_one_bounded_event_between_reads() -> None:
    """A provider that never ends a line (or an event) is refused once it passes the bound, not buffered."""
    endless = chunks(*[b"data: " + b"x" * 65536] * 80)  # 5 MiB without a newline
    with pytest.raises(EventTooLarge):
        _ = [e async for e in events(endless)]
    many_lines = chunks(*[b"data: " + b"y" * 65536 + b"\n"] * 80)  # one event of 80 data lines, never ended
    with pytest.raises(EventTooLarge):
        _ = [e async for e in events(many_lines)]
    ended = chunks(*[b"data: " + b"z" * 65536 + b"\n\n"] * 80)  # as much, in events of 64 KiB: fine
    assert len([e async for e in events(ended)]) == 80


def test_a_chunk_gives_text_tool_call_fragments_finish_reason_and_usage() -> None:
    chunk = {
        "choices": [
            {
                "delta": {
                    "tool_calls": [{"index": 1, "id": "c1", "function": {"name": "f", "arguments": "{"}}]
                },
                "finish_reason": "tool_use",
            }
        ]
    }
    delta = delta_of(chunk)
    assert delta is not None and delta.finish_reason == "tool_calls"
    assert delta.tool_calls == (ToolCallDelta(1, "c1", "f", "{"),)
    assert delta_of({"choices": [{"delta": {"role": "assistant", "content": ""}}]}) is None
    usage = usage_of(
        {"prompt_tokens": 10, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 4}}
    )
    assert usage is not None and (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (
        10,
        3,
        4,
    )
    assert usage_of({"prompt_tokens": 10}) is None
    deepseek = usage_of({"prompt_tokens": 10, "completion_tokens": 1, "prompt_cache_hit_tokens": 6})
    assert deepseek is not None and deepseek.cache_read_tokens == 6


def test_a_whole_answer() -> None:
    body = {
        "choices": [
            {
                "message": {
                    "content": None,
                    "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2},
    }
    answer = answer_of(body)
    assert answer.text == "" and answer.tool_calls[0].name == "f" and answer.usage is not None


@pytest.mark.parametrize(
    ("status", "text", "kind", "code"),
    [
        (429, "slow down", "rate_limited", "provider_rate_limited"),
        (500, "Rate limit reached", "rate_limited", "provider_rate_limited"),
        (529, '{"type":"overloaded_error"}', "overloaded", "provider_error"),
        (503, "down", "unavailable", "provider_unavailable"),
        (504, "", "timeout", "provider_timeout"),
        (401, "", "auth", "provider_auth_failed"),
        (403, "", "auth", "provider_error"),
        (404, "", "client_error", "provider_error"),
        (400, "This model's maximum context length is 8192", "context_window", "context_length_exceeded"),
        (400, "invalid_request_error content_policy_violation", "content_policy", "content_policy_violation"),
        (422, "", "client_error", "provider_rejected_request"),
    ],
)
def test_statuses_classify_and_translate_as_litellm_maps_them(
    status: int, text: str, kind: str, code: str
) -> None:
    error = status_error(status, text, httpx.Headers())
    assert classify(error).kind == kind
    assert translate(error, "p").code == code


def test_retry_after_comes_from_the_providers_headers() -> None:
    error = status_error(429, "", httpx.Headers({"retry-after-ms": "1500"}))
    assert classify(error).retry_after == 1.5


def test_transport_failures_and_cut_streams() -> None:
    request = httpx.Request("POST", "http://x")
    timeout = transport_error(httpx.ConnectTimeout("t", request=request))
    assert classify(timeout).kind == "timeout" and translate(timeout, "p").code == "provider_timeout"
    cut = mid_stream(transport_error(httpx.RemoteProtocolError("cut", request=request)))
    assert classify(cut).kind == "connection" and translate(cut, "p").code == "provider_unavailable"
    refused = mid_stream(status_error(400, "", httpx.Headers()))
    assert isinstance(refused, ProviderError) and translate(refused, "p").code == "provider_rejected_request"
