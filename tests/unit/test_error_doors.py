"""Errors take the shape of the door they came through: OpenAI's everywhere, Anthropic's on /v1/messages."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from run_services.api.errors import install_error_handlers
from shared.errors import PaymentRequired, ServiceUnavailable


class Body(BaseModel):
    max_tokens: int


def app() -> TestClient:
    api = FastAPI()
    install_error_handlers(api)

    @api.post("/v1/messages")
    async def messages(body: Body) -> dict[str, int]:
        if body.max_tokens == 1:
            raise PaymentRequired("Not enough credits; buy more.")
        raise ServiceUnavailable("Every provider failed.", code="all_providers_failed")

    @api.post("/v1/chat/completions")
    async def chat(body: Body) -> dict[str, int]:
        raise PaymentRequired("Not enough credits; buy more.")

    return TestClient(api)


def test_anthropic_door_speaks_anthropics_error_shape() -> None:
    client = app()
    paid = client.post("/v1/messages", json={"max_tokens": 1})
    assert paid.status_code == 402
    assert paid.json() == {
        "type": "error",
        "error": {"type": "billing_error", "message": "Not enough credits; buy more."},
    }
    overloaded = client.post("/v1/messages", json={"max_tokens": 2})
    assert overloaded.status_code == 529 and overloaded.json()["error"]["type"] == "overloaded_error"
    invalid = client.post("/v1/messages", json={})
    assert invalid.status_code == 400 and invalid.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in invalid.json()["error"]["message"]
    missing = client.post("/v1/messages/nope", json={})
    assert missing.status_code == 404 and missing.json()["type"] == "error"


def test_other_doors_keep_the_openai_shape() -> None:
    client = app()
    paid = client.post("/v1/chat/completions", json={"max_tokens": 1})
    assert paid.status_code == 402 and paid.json()["error"]["code"] == "insufficient_credits"
    assert client.post("/v1/chat/completions", json={}).status_code == 422
