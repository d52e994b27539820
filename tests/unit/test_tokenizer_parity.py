"""Our token counter (shared/gateway/tokenizer.py) gives litellm's counts to the token, without importing
litellm: the same texts and messages (tools, names, tool calls, images, Anthropic and Gemini tool shapes)
through both, for the catalog's kinds of model names."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import litellm
import pytest

from shared.gateway import tokenizer

ROOT = Path(__file__).resolve().parents[2]

MODELS = (
    "",
    "openai/fake-echo",
    "openai/gpt-4o-mini",
    "openai/gpt-4.1",
    "xai/grok-4",
    "deepseek/deepseek-chat",
    "gemini/gemini-2.5-flash",
    "vertex_ai/gemini-2.5-flash",
    "groq/llama3-8b",
    "anthropic/claude-sonnet-4-20250514",  # a prefix we leave to litellm
    "gpt-4o",  # a bare OpenAI name: o200k_base, litellm counts
)

TEXTS = (
    "",
    "hello",
    "The quick brown fox jumps over the lazy dog.",
    "naïve café, Straße, 東京タワー, 안녕하세요, emoji 🚀🔥👍🏽",
    "def f(x):\n    return {'a': [1, 2, 3]}  # code\n\n\n",
    "<|endoftext|> special tokens <|fim_prefix|> as plain text",
    " " * 3000 + "x",  # a long run of one character across 1,024-character chunks
    ("lorem ipsum dolor sit amet, " * 200),  # 5,600 characters: chunk boundaries inside words
    "1234567890" * 150,
    "\r\n\t mixed\u00a0whitespace\u2003",
)

PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "The city"},
                    "unit": {"type": "string", "enum": ["c", "f"]},
                    "days": {"type": "integer"},
                    "level": {"type": "number", "enum": [1, 2]},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "where": {
                        "type": "object",
                        "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                        "required": ["lat"],
                    },
                    "exact": {"type": "boolean"},
                    "nothing": {"type": "null"},
                    "either": {"type": ["string", "null"]},
                    "free": {},
                },
                "required": ["city"],
            },
        },
    },
    {"type": "function", "function": {"name": "now", "description": "", "parameters": {}}},
    {"type": "function", "function": {"name": "ping"}},
    {"name": "anthropic_tool", "description": "flat", "input_schema": {"type": "object", "properties": {}}},
    {
        "function_declarations": [
            {"name": "gemini_fn", "parameters": {"properties": {"q": {"type": "string"}}}}
        ]
    },
    "not a tool",  # skipped by both
]

MESSAGES: list[list[dict[str, Any]]] = [
    [],
    [{"role": "user", "content": "hi"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": TEXTS[3]}],
    [{"role": "user", "name": "alice", "content": "hello there"}],
    [
        {
            "role": "user",
            "content": [{"type": "text", "text": "part one"}, {"type": "text", "text": TEXTS[4]}],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                },
                {"id": "c2", "type": "function", "function": {"name": "now", "arguments": ""}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 3}'},
        {"role": "assistant", "function_call": {"name": "now", "arguments": "{}"}, "content": "ok"},
    ],
    [{"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm, let me see"}, "plain string"]}],
    [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "low"}},
            ],
        }
    ],
    [{"role": "user", "content": TEXTS[7]}, {"role": "assistant", "content": TEXTS[6]}],
]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("text", TEXTS)
def test_text_counts_are_litellms(model: str, text: str) -> None:
    expected = litellm.token_counter(model=model, text=text, count_response_tokens=True)
    assert tokenizer.count_text(model, text) == expected


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("index", range(len(MESSAGES)))
@pytest.mark.parametrize("tools", [None, TOOLS])
def test_message_counts_are_litellms(model: str, index: int, tools: list[dict[str, Any]] | None) -> None:
    messages = MESSAGES[index]
    expected = litellm.token_counter(model=model, messages=messages, tools=tools)
    assert tokenizer.count_messages(model, messages, tools) == expected


def test_names_litellm_gives_another_tokenizer_are_left_to_it() -> None:
    # litellm counts these with HuggingFace's llama or Anthropic's tokenizer (loading them can need the
    # network, so this test does not compare the counts): our counter must not count them itself.
    for model in ("openrouter/meta-llama/llama-3.3-70b-instruct", "replicate/x", "openai/claude-2", "bare"):
        assert not tokenizer.counts_alone(model)
    assert tokenizer.counts_alone("openai/fake-echo") and tokenizer.counts_alone("")


def test_listed_names_with_our_prefixes_take_litellms_default_path() -> None:
    # litellm picks the encoding and the per-message tokens by its model lists: a prefixed name in them
    # (a few OpenAI media names are) must still get cl100k_base and the standard message accounting.
    from litellm.litellm_core_utils import token_counter as tc

    names = [
        *litellm.open_ai_chat_completion_models,
        *litellm.azure_llms,
        *litellm.anthropic_models,
        *litellm.cohere_models,
    ]
    assert names  # the lists are really there
    ours = [n for n in names if "/" in n and tokenizer.counts_alone(n)]
    for name in ours:
        assert tc.openai_tokenizer_encoding_name(name) == "cl100k_base", name
        assert not tc.uses_legacy_message_accounting(name), name
        assert tokenizer.count_messages(name, MESSAGES[4], TOOLS) == litellm.token_counter(
            model=name, messages=MESSAGES[4], tools=TOOLS
        )


def test_the_encoding_is_litellms_cl100k() -> None:
    from litellm.litellm_core_utils.default_encoding import encoding

    for text in TEXTS:
        assert tokenizer.text_encoding().encode(text, disallowed_special=()) == encoding.encode(
            text, disallowed_special=()
        )


def test_counting_needs_neither_litellm_nor_the_network() -> None:
    # A fresh interpreter with no route out (proxy to a closed port): litellm stays unimported.
    code = """
import sys
from shared.gateway import tokenizer
n = tokenizer.count_messages("openai/x", [{"role": "user", "content": "hello world"}], [
    {"type": "function", "function": {"name": "f", "parameters": {"properties": {"a": {"type": "string"}}}}}])
t = tokenizer.count_text("", "hello world")
assert "litellm" not in sys.modules, "litellm was imported"
print(n, t)
"""
    env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    env.pop("TIKTOKEN_CACHE_DIR", None)
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    count, text = (int(x) for x in run.stdout.split())
    assert text == 2 and count > 10
