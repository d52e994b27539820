"""What a cache hit costs: a configurable share of what the original answer costs at today's prices."""

from __future__ import annotations


def cache_hit_credits(spec_cost_of_original: int, percent: int) -> int:
    """Credits for a hit: `percent` (settings.cache_hit_price_percent, 0 = free) of the original
    answer's cost (`spec.cost(answer.input_tokens, answer.output_tokens)`), rounded up."""
    if spec_cost_of_original < 0:
        raise ValueError("a cost cannot be negative")
    if not 0 <= percent <= 100:
        raise ValueError("the cache hit price is a percentage between 0 and 100")
    return -(-spec_cost_of_original * percent // 100)
