"""The facade the chat service calls: token counting, the `auto` choice, and routed model calls.

The routing (fallbacks, deployments, breaker, retries, timeouts) is in router.py, single attempts
and token counts in calls.py; nothing outside shared/gateway imports litellm.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from shared.catalog.catalog import Catalog, ModelSpec
from shared.gateway.auto import AutoChoice, choose
from shared.gateway.balancer import Balancer
from shared.gateway.breaker import Breaker
from shared.gateway.calls import Caller, ModelStream, count_prompt, count_rough, count_text
from shared.gateway.inline import ImageFetcher, ImageInliner
from shared.gateway.retry import RetryPolicy
from shared.gateway.router import Router
from shared.gateway.types import Candidate, Completion
from shared.settings import Settings

__all__ = ["Gateway", "ModelStream"]


class Gateway:
    def __init__(self, catalog: Catalog, router: Router) -> None:
        self.catalog = catalog
        self.router = router

    def count_prompt(
        self, spec: ModelSpec, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> int:
        """The prompt's tokens at `spec`'s tokenizer, tool definitions included."""
        return count_prompt(spec, messages, tools)

    def count_text(self, spec: ModelSpec, text: str) -> int:
        return count_text(spec, text)

    def choose_auto(
        self, messages: list[dict[str, Any]], allowed: Callable[[str], bool] | None = None
    ) -> AutoChoice:
        """The model the `auto` model picks for these messages (among the `allowed` ones), and the reason."""
        return choose(self.catalog, messages, count_rough, allowed)

    def options(self, spec: ModelSpec) -> list[ModelSpec]:
        """The model, then its configured fallbacks: the models a request on `spec` may be served by."""
        return [spec, *self.catalog.fallbacks(spec)]

    async def complete(
        self, chain: list[Candidate], messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> Completion:
        return await self.router.complete(chain, messages, params)

    async def open_stream(
        self, chain: list[Candidate], messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> ModelStream:
        """An open stream whose first delta is in; `.served` says which model and deployment."""
        return await self.router.open_stream(chain, messages, params)

    async def aclose(self) -> None:
        """Close the native lane's pooled connections (at shutdown)."""
        await self.router.caller.aclose()


def build_gateway(
    catalog: Catalog, settings: Settings, redis: Redis, image_fetcher: ImageFetcher | None = None
) -> Gateway:
    """The gateway and its parts as the settings configure them: the breaker and the balancer keep their
    state in this Redis (shared by every instance), the caller makes single attempts through litellm
    (fetching images for the providers that need their bytes with `image_fetcher`), and the retry policy
    spaces the router's attempts."""
    breaker = Breaker(
        redis,
        failure_threshold=settings.gateway_breaker_failures,
        window_s=settings.gateway_breaker_window_s,
        open_s=settings.gateway_breaker_open_s,
    )
    policy = RetryPolicy(
        max_attempts=settings.gateway_max_attempts,
        base_s=settings.gateway_retry_base_s,
        cap_s=settings.gateway_retry_cap_s,
        max_retry_after_s=settings.gateway_max_retry_after_s,
    )
    balancer = Balancer(redis, strategy=settings.gateway_balance)
    caller = Caller(settings, ImageInliner(image_fetcher, settings.max_image_bytes))
    return Gateway(catalog, Router(catalog, settings, breaker, balancer, caller, policy=policy))
