"""End to end with the real local embedding model (all-MiniLM-L6-v2 under xllamacpp, started by the
devstack with the chat model): meaning, not just shape, and the charge of what it reported."""

from __future__ import annotations

import math
import os

import httpx
import pytest

from shared.catalog.embeddings import EmbeddingModel
from tests.support.helpers import User, balance, rid, usage_for

pytestmark = pytest.mark.model
LOCAL = EmbeddingModel("all-minilm-l6-v2", "local_embedding", "openai/x", 1000, 256, 32, 384, False, True)
TEXTS = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The stock market fell sharply on Monday.",
]


@pytest.fixture(scope="module", autouse=True)
def embedding_url() -> str:
    url = os.environ.get("LOCAL_EMBEDDING_URL")
    if not url:
        pytest.fail("LOCAL_EMBEDDING_URL is not set: `make test` starts the local embedding model.")
    return url


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def model_tokens(embedding_url: str, text: str) -> int:
    """The model server's own count of `text`, [CLS] and [SEP] included."""
    body = {"content": text, "add_special": True}
    return len(httpx.post(f"{embedding_url.removesuffix('/v1')}/tokenize", json=body).json()["tokens"])


def test_similar_texts_are_closer_than_unrelated_ones(
    client: httpx.Client, user: User, embedding_url: str
) -> None:
    before = balance(client, user.headers)
    headers = {**user.headers, **rid()}
    response = client.post(
        "/v1/embeddings", headers=headers, json={"model": "all-minilm-l6-v2", "input": TEXTS}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    vectors = [item["embedding"] for item in body["data"]]
    assert [len(v) for v in vectors] == [384, 384, 384]
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-3 for v in vectors)  # unit length
    eating, bread, market = vectors
    assert cosine(eating, bread) > 0.6 > 0.2 > cosine(eating, market)
    # The model's own count, charged at the catalog's price.
    usage = body["usage"]
    assert usage["prompt_tokens"] == sum(model_tokens(embedding_url, text) for text in TEXTS)
    assert usage["credits"] == LOCAL.cost(usage["prompt_tokens"])
    assert balance(client, user.headers)["available"] == before["available"] - usage["credits"]
    record = usage_for(headers["X-Request-ID"])
    assert record["usage_reported"] is True and record["credits"] == usage["credits"]


def test_the_local_model_refuses_dimensions_and_long_inputs(client: httpx.Client, user: User) -> None:
    before = balance(client, user.headers)
    fewer = {"model": "all-minilm-l6-v2", "input": "hi", "dimensions": 64}
    response = client.post("/v1/embeddings", headers=user.headers, json=fewer)
    assert response.status_code == 400 and response.json()["error"]["code"] == "dimensions_not_supported"
    long = {"model": "all-minilm-l6-v2", "input": "word " * 300}
    response = client.post("/v1/embeddings", headers=user.headers, json=long)
    assert response.status_code == 400 and response.json()["error"]["code"] == "input_too_long"
    assert balance(client, user.headers) == before
