"""Reading litellm's usage, prompt-cache tokens included, and pricing it (Anthropic's formula)."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from litellm.types.utils import PromptTokensDetailsWrapper
from litellm.types.utils import Usage as LiteUsage

from shared.catalog.catalog import ModelSpec
from shared.gateway.calls import usage_of
from shared.gateway.types import Usage

SONNET = ModelSpec(
    "claude-sonnet-4",
    "anthropic",
    "anthropic/claude-sonnet-4-20250514",
    input_price=3_000_000,
    output_price=15_000_000,
    context_window=200_000,
    max_output_tokens=64_000,
    cache_read_price=300_000,
    cache_write_price=3_750_000,
)


def test_anthropic_cache_reads_and_writes_are_read_from_litellm_usage() -> None:
    # litellm's Anthropic mapping: prompt_tokens = input + cache reads + cache writes.
    raw = LiteUsage(
        prompt_tokens=100 + 2000 + 500,
        completion_tokens=40,
        total_tokens=2640,
        cache_read_input_tokens=2000,
        cache_creation_input_tokens=500,
    )
    usage = usage_of(raw)
    assert usage == Usage(2600, 40, True, cache_read_tokens=2000, cache_write_tokens=500)
    # $3/M uncached, $0.30/M reads, $3.75/M writes, $15/M output; 1 credit = 1 micro-USD.
    assert usage.cost(SONNET) == 100 * 3 + 2000 * 0.3 + 500 * 3.75 + 40 * 15


def test_openai_cached_tokens_are_cache_reads() -> None:
    raw = LiteUsage(
        prompt_tokens=1000,
        completion_tokens=10,
        total_tokens=1010,
        prompt_tokens_details=PromptTokensDetailsWrapper(cached_tokens=768),
    )
    usage = usage_of(raw)
    assert usage is not None
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == (1000, 768, 0)


def test_usage_without_cache_fields_prices_all_input_at_the_input_rate() -> None:
    usage = usage_of(LiteUsage(prompt_tokens=7, completion_tokens=3, total_tokens=10))
    assert usage == Usage(7, 3, True)
    assert usage.cost(SONNET) == SONNET.cost(7, 3)
    assert usage_of(None) is None
