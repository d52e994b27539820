"""Native calls: one attempt on an OpenAI-wire deployment, sent and read here instead of by litellm.

The caller (shared/gateway/calls.py) keeps the attempt's timeouts and the stream's first-delta rule;
this file sends the request and reads the answer. HTTP failures are raised as errors.py's ProviderError.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx
import orjson

from shared.catalog.catalog import Deployment
from shared.gateway.calls import Limits, ModelStream
from shared.gateway.native.body import request_body, without_unprocessable
from shared.gateway.native.errors import ProviderError, mid_stream, status_error, transport_error
from shared.gateway.native.parse import answer_of, delta_of, usage_of
from shared.gateway.native.pool import Pool
from shared.gateway.native.sse import DONE, EventTooLarge, events
from shared.gateway.native.wire import Wire, needs_litellm, wire_for
from shared.gateway.types import Answer, Delta
from shared.settings import Settings


class NativeLane:
    def __init__(self, settings: Settings) -> None:
        self._providers = frozenset(p.strip() for p in settings.native_lane_providers.split(",") if p.strip())
        self._pool = Pool(settings.native_lane_max_connections, settings.native_lane_keepalive)
        self._wires: dict[Deployment, Wire | None] = {}
        self.attempts = 0  # calls sent on this lane (for tests and the benchmark)

    def wire(self, deployment: Deployment) -> Wire | None:
        """How to call `deployment` natively, or None when litellm must (worked out once)."""
        if deployment not in self._wires:
            self._wires[deployment] = wire_for(deployment, self._providers)
        return self._wires[deployment]

    def needs_litellm(self, deployment: Deployment) -> bool:
        """Whether `wire(deployment)` has yet to ask litellm for the model's parameters."""
        return deployment not in self._wires and needs_litellm(deployment, self._providers)

    async def complete(
        self,
        wire: Wire,
        deployment: Deployment,
        messages: list[dict[str, Any]],
        max_tokens: int,
        params: dict[str, Any],
        limits: Limits,
    ) -> Answer:
        body = request_body(wire, messages, max_tokens, params, stream=False)
        response = await self._send(wire, deployment, body, limits, stream=False)
        try:
            answer = orjson.loads(response.content)
            if isinstance(answer, dict) and answer.get("error") is not None and not answer.get("choices"):
                raise _stream_error(answer["error"], response.headers)  # an error in a 200 (OpenRouter)
            return answer_of(answer)
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
            raise ProviderError("APIError", 500, "the provider's answer is not a chat completion") from exc

    async def open(
        self,
        wire: Wire,
        deployment: Deployment,
        messages: list[dict[str, Any]],
        max_tokens: int,
        params: dict[str, Any],
        limits: Limits,
    ) -> SSEUpstream:
        """The provider's event stream, once its status line and headers are in."""
        body = request_body(wire, messages, max_tokens, params, stream=True)
        return SSEUpstream(await self._send(wire, deployment, body, limits, stream=True))

    async def _send(
        self, wire: Wire, deployment: Deployment, body: dict[str, Any], limits: Limits, stream: bool
    ) -> httpx.Response:
        """The provider's answer with a success status (a stream: its headers only). A 422 naming
        parameters is sent once more without them, as litellm does."""
        client = self._pool.client(deployment.id)
        for tries in (1, 2):
            request = client.build_request(
                "POST", wire.url, content=orjson.dumps(body), headers=wire.headers, timeout=_timeout(limits)
            )
            self.attempts += 1
            try:
                response = await client.send(request, stream=stream)
            except httpx.TransportError as exc:
                raise transport_error(exc) from exc
            if response.status_code < 400:
                return response
            try:
                error = await response.aread()
            except httpx.TransportError:
                error = b""
            finally:
                await response.aclose()
            if response.status_code != 422 or tries == 2:
                raise status_error(response.status_code, error.decode("utf-8", "replace"), response.headers)
            body = without_unprocessable(body, error)
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self._pool.aclose()


class SSEUpstream:
    """The chunks of an open event stream, parsed; closing it closes the connection."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._chunks: AsyncGenerator[dict[str, Any], None] = self._read()

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._chunks

    async def _read(self) -> AsyncGenerator[dict[str, Any], None]:
        try:
            async for data in events(self._response.aiter_bytes()):
                if data == DONE:
                    return
                chunk = orjson.loads(data)
                if not isinstance(chunk, dict):
                    continue
                if chunk.get("error") is not None and not chunk.get("choices"):
                    raise mid_stream(_stream_error(chunk["error"], self._response.headers))
                yield chunk
        except httpx.TransportError as exc:
            raise mid_stream(transport_error(exc)) from exc
        except EventTooLarge as exc:
            raise mid_stream(ProviderError("APIError", None, f"the provider sent {exc}")) from exc
        except orjson.JSONDecodeError as exc:
            raise mid_stream(
                ProviderError("APIError", None, "the provider sent an event that is not JSON")
            ) from exc

    async def aclose(self) -> None:
        """Close the connection. The reader is left alone: a read the caller's timeout or a cancelled
        client cut may still be unwinding in its own task, and ends on the closed connection."""
        await self._response.aclose()


class NativeStream(ModelStream):
    """A ModelStream over a native event stream: the same deltas, usage and failure handling."""

    def read(self, chunk: Any) -> Delta | None:
        usage = usage_of(chunk.get("usage"))
        if usage is not None:
            self.usage = usage
        return delta_of(chunk)


def _stream_error(error: Any, headers: httpx.Headers) -> ProviderError:
    """An error sent as data (OpenRouter does, in a stream or a 200 answer), as its HTTP answer would be."""
    code = error.get("code") if isinstance(error, dict) else None
    status = code if isinstance(code, int) and 400 <= code < 600 else 500
    return status_error(status, orjson.dumps(error).decode(), headers)


def _timeout(limits: Limits) -> httpx.Timeout:
    return httpx.Timeout(limits.total_s, connect=limits.connect_s)
