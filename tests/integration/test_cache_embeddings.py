"""The litellm embedding adapter against a local OpenAI-compatible /v1/embeddings endpoint."""

from __future__ import annotations

import asyncio
import base64
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shared.gateway.embeddings import EmbeddingError, LitellmEmbedder
from tests.support.servers import ServerThread

pytestmark = pytest.mark.anyio

VECTOR = [0.25, -0.5, 1.0, 0.125]


class FakeEmbeddings:
    """Answers like OpenAI's embeddings API (floats or base64 float32, as the client asks)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail = False
        self.hang = False
        self.app = FastAPI()
        self.app.post("/v1/embeddings")(self.embeddings)

    async def embeddings(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append({"body": body, "authorization": request.headers.get("authorization")})
        if self.hang:
            await asyncio.sleep(1.5)
        if self.fail:
            return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, status_code=500)
        vector: Any = VECTOR
        if body.get("encoding_format") == "base64":
            vector = base64.b64encode(struct.pack(f"<{len(VECTOR)}f", *VECTOR)).decode()
        return JSONResponse(
            {
                "object": "list",
                "data": [{"object": "embedding", "index": 0, "embedding": vector}],
                "model": body["model"],
                "usage": {"prompt_tokens": 3, "total_tokens": 3},
            }
        )


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[FakeEmbeddings, str]]:
    service = FakeEmbeddings()
    with ServerThread(service.app) as server:
        yield service, f"{server.url}/v1"


async def test_embed_returns_the_providers_vector(fake: tuple[FakeEmbeddings, str]) -> None:
    service, base = fake
    service.fail = False
    embedder = LitellmEmbedder("openai/text-embedding-3-small", api_key="sk-test", api_base=base)
    vector = await embedder.embed("What is the capital of France?")
    assert vector == pytest.approx(VECTOR)
    sent = service.requests[-1]
    assert sent["body"]["model"] == "text-embedding-3-small"
    assert sent["body"]["input"] == ["What is the capital of France?"]
    assert sent["authorization"] == "Bearer sk-test"
    assert "dimensions" not in sent["body"]


async def test_dimensions_are_asked_for_when_set(fake: tuple[FakeEmbeddings, str]) -> None:
    service, base = fake
    embedder = LitellmEmbedder("openai/text-embedding-3-small", api_key="k", api_base=base, dimensions=256)
    await embedder.embed("hello")
    assert service.requests[-1]["body"]["dimensions"] == 256


async def test_a_provider_failure_is_an_embedding_error(fake: tuple[FakeEmbeddings, str]) -> None:
    service, base = fake
    service.fail = True
    embedder = LitellmEmbedder(
        "openai/text-embedding-3-small", api_key="sk-test", api_base=base, timeout_s=10
    )
    try:
        with pytest.raises(EmbeddingError):
            await embedder.embed("hello")
    finally:
        service.fail = False


async def test_a_slow_provider_is_cut_off_at_the_deadline(fake: tuple[FakeEmbeddings, str]) -> None:
    service, base = fake
    service.hang = True
    embedder = LitellmEmbedder(
        "openai/text-embedding-3-small", api_key="sk-test", api_base=base, timeout_s=0.3
    )
    started = time.monotonic()
    try:
        with pytest.raises(EmbeddingError):
            await embedder.embed("hello")
    finally:
        service.hang = False
    assert time.monotonic() - started < 1.2  # the provider would take 1.5 s per attempt
