"""POST /v1/embeddings against the running API, the emulators, Redis and the scripted fake provider
(tests/fakes/embeddings.py): OpenAI's shape (float and base64, input order, dimensions), the charge
(the catalog's price of the provider's tokens, equal to the ledger's movement and the usage record),
and what is refused before anything is held."""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.catalog.embeddings import EmbeddingModel
from shared.ledger.wallet_ids import workspace_wallet_base
from shared.settings import Settings
from tests.fakes.embeddings import MAX_INPUTS, PRICE, fake_vector, reported_tokens
from tests.fakes.provider import FakeProvider
from tests.support.helpers import (
    User,
    assert_error,
    balance,
    db,
    drain_to,
    grant_credits,
    rid,
    sign_up,
    usage_for,
)
from tests.support.servers import ServerThread
from tests.support.workspaces import create, join

FAKE = EmbeddingModel("fake-embed", "fake", "openai/fake-embed", PRICE, 50, 8, 16, True, True)
TEXTS = ["red cat", "blue dog sun", "green moon star white"]
LIMITED_PLANS = Path(__file__).parent / "ratelimit_plans.toml"


def embed(client: httpx.Client, user: User, **body: Any) -> httpx.Response:
    headers = {**user.headers, **rid(), **body.pop("headers", {})}
    return client.post("/v1/embeddings", json={"model": "fake-embed", **body}, headers=headers)


def close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(abs(x - y) < 1e-6 for x, y in zip(a, b, strict=True))


def usage_count(request_id: str) -> int:
    query = db().collection("usage").where(filter=FieldFilter("request_id", "==", request_id))
    return len(list(query.stream()))


def test_list_input_keeps_order_and_charges_the_reported_tokens(client: httpx.Client, user: User) -> None:
    before = balance(client, user.headers)
    response = embed(client, user, input=TEXTS)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list" and body["model"] == "fake-embed"
    assert [item["index"] for item in body["data"]] == [0, 1, 2]
    assert all(item["object"] == "embedding" for item in body["data"])
    # The fake answers in reverse order; the API puts each vector at its input's index.
    for item, text in zip(body["data"], TEXTS, strict=True):
        assert close(item["embedding"], fake_vector(text, 16))
    tokens = reported_tokens(TEXTS)
    credits = FAKE.cost(tokens)
    assert body["usage"] == {
        "prompt_tokens": tokens,
        "total_tokens": tokens,
        "credits": credits,
        "cost": credits / 1_000_000,
    }
    after = balance(client, user.headers)
    assert after == {"available": before["available"] - credits, "reserved": 0}
    record = usage_for(response.headers["x-request-id"])
    assert record["feature"] == "embeddings" and record["model"] == "fake-embed"
    assert record["credits"] == credits and record["input_tokens"] == tokens
    assert record["outcome"] == "ok" and record["usage_reported"] is True and record["inputs"] == 3


def test_base64_is_little_endian_float32(client: httpx.Client, user: User) -> None:
    response = embed(client, user, input="red cat", encoding_format="base64")
    assert response.status_code == 200, response.text
    encoded = response.json()["data"][0]["embedding"]
    assert isinstance(encoded, str)
    raw = base64.b64decode(encoded)
    assert len(raw) == 16 * 4
    decoded = list(struct.unpack("<16f", raw))
    assert close(decoded, fake_vector("red cat", 16))


def test_dimensions_are_passed_to_a_model_that_allows_them(
    client: httpx.Client, user: User, fake_provider: FakeProvider
) -> None:
    response = embed(client, user, input="red cat", dimensions=4)
    assert response.status_code == 200, response.text
    assert len(response.json()["data"][0]["embedding"]) == 4
    assert fake_provider.embeddings.calls_for("fake-embed")[-1]["dimensions"] == 4


def test_without_reported_usage_our_count_is_charged(client: httpx.Client, user: User) -> None:
    before = balance(client, user.headers)
    response = embed(client, user, model="fake-embed-silent", input=TEXTS)
    assert response.status_code == 200, response.text
    usage = response.json()["usage"]
    estimate = sum(len(text.split()) for text in TEXTS)  # one token a word in every tokenizer
    assert usage["prompt_tokens"] == estimate and usage["credits"] == FAKE.cost(estimate)
    assert balance(client, user.headers)["available"] == before["available"] - usage["credits"]
    assert usage_for(response.headers["x-request-id"])["usage_reported"] is False


def test_the_openai_sdk_gets_floats_and_decodes_its_default_base64(api: str, user: User) -> None:
    sdk = openai.OpenAI(base_url=f"{api}/v1", api_key=user.access_token, max_retries=0)
    default = sdk.embeddings.create(model="fake-embed", input=TEXTS)  # the SDK asks for base64
    floats = sdk.embeddings.create(model="fake-embed", input=TEXTS, encoding_format="float")
    for result in (default, floats):
        assert [d.index for d in result.data] == [0, 1, 2]
        for item, text in zip(result.data, TEXTS, strict=True):
            assert close(item.embedding, fake_vector(text, 16))
        assert result.usage.prompt_tokens == reported_tokens(TEXTS)
        assert result.usage.credits == FAKE.cost(reported_tokens(TEXTS))  # type: ignore[attr-defined]
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.embeddings.create(model="no-such-embedder", input="hi")
    assert missing.value.status_code == 404


def test_models_lists_the_embedding_models(client: httpx.Client, user: User) -> None:
    listed = client.get("/v1/models", headers=user.headers).json()["data"]
    entry = next(m for m in listed if m["id"] == "fake-embed")
    assert entry["mode"] == "embedding" and entry["pricing"]["input"] == PRICE
    assert entry["dimensions"] == 16 and entry["dimensions_adjustable"] is True
    assert entry["max_inputs"] == MAX_INPUTS and entry["object"] == "model"
    fixed = next(m for m in listed if m["id"] == "fake-embed-fixed")
    assert fixed["dimensions_adjustable"] is False


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"input": ["red"] * (MAX_INPUTS + 1)}, 400, "too_many_inputs"),
        ({"input": " ".join(["cat"] * 60)}, 400, "input_too_long"),
        ({"input": ["red", " ".join(["dog"] * 51)]}, 400, "input_too_long"),
        ({"input": ""}, 400, "empty_input"),
        ({"input": []}, 400, "empty_input"),
        ({"input": ["red", "  "]}, 400, "empty_input"),
        ({"input": [1, 2, 3]}, 400, "token_input_not_supported"),
        ({"input": [[1, 2], [3]]}, 400, "token_input_not_supported"),
        ({"input": "red", "dimensions": 17}, 400, "invalid_dimensions"),
        ({"input": "red", "dimensions": 0}, 422, "invalid_request"),
        ({"input": "red", "model": "fake-embed-fixed", "dimensions": 4}, 400, "dimensions_not_supported"),
        ({"input": "red", "encoding_format": "int8"}, 422, "invalid_request"),
        ({"input": "red", "model": "no-such-embedder"}, 404, "model_not_found"),
        ({"input": "red", "model": "fake-echo"}, 404, "model_not_found"),  # a chat model
        ({"input": "red", "stream": True}, 422, "invalid_request"),
    ],
)
def test_bad_requests_hold_call_and_record_nothing(
    client: httpx.Client,
    user: User,
    fake_provider: FakeProvider,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    before = balance(client, user.headers)
    calls = len(fake_provider.embeddings.calls)
    headers = rid()
    response = embed(client, user, headers=headers, **body)
    assert_error(response, status, code)
    assert balance(client, user.headers) == before
    assert len(fake_provider.embeddings.calls) == calls
    assert usage_count(headers["X-Request-ID"]) == 0


def test_insufficient_credits_is_402_and_nothing_is_charged(
    client: httpx.Client, user: User, settings: Settings, fake_provider: FakeProvider
) -> None:
    drain_to(settings, user.user_id, leave=1)
    before = balance(client, user.headers)
    calls = len(fake_provider.embeddings.calls)
    headers = rid()
    response = embed(client, user, headers=headers, input=TEXTS)
    assert_error(response, 402, "insufficient_credits")
    assert balance(client, user.headers) == before
    assert len(fake_provider.embeddings.calls) == calls
    assert usage_count(headers["X-Request-ID"]) == 0


def test_a_provider_failure_charges_nothing(client: httpx.Client, user: User) -> None:
    before = balance(client, user.headers)
    response = embed(client, user, model="fake-embed-500", input=TEXTS)
    assert response.status_code >= 500
    assert response.json()["error"]["type"] == "provider_error"
    assert "boom" not in response.text  # the provider's own text is logged, never returned
    assert balance(client, user.headers) == before
    record = usage_for(response.headers["x-request-id"])
    assert record["outcome"] == "error" and record["credits"] == 0


def test_the_plan_allow_list_applies(settings: Settings, fake_provider: FakeProvider, tmp_path: Path) -> None:
    text = LIMITED_PLANS.read_text() + '\n[plan_billing.free]\nallowed_models = ["fake-embed-fixed"]\n'
    plans = tmp_path / "plans.toml"
    plans.write_text(text)
    from run_services.api.main import create_app

    app = create_app(settings.model_copy(update={"plans_path": plans}))
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        user = sign_up(client)
        calls = len(fake_provider.embeddings.calls)
        assert_error(embed(client, user, input="red"), 403, "model_not_in_plan")
        assert len(fake_provider.embeddings.calls) == calls
        assert embed(client, user, model="fake-embed-fixed", input="red").status_code == 200


@pytest.fixture(scope="module")
def tiny_api(settings: Settings) -> Iterator[str]:
    from run_services.api.main import create_app

    update = {"plans_path": LIMITED_PLANS, "default_plan": "tiny", "plan_cache_s": 0}
    with ServerThread(create_app(settings.model_copy(update=update))) as server:
        yield server.url


def test_a_flood_is_429_with_retry_after(tiny_api: str) -> None:
    with httpx.Client(base_url=tiny_api, timeout=60) as client:
        user = sign_up(client)
        answers = [embed(client, user, input="red cat") for _ in range(5)]
        assert [a.status_code for a in answers[:3]] == [200, 200, 200]
        assert_error(answers[3], 429, "requests_per_minute_exceeded")
        assert "retry-after" in answers[3].headers
        assert answers[0].headers["x-ratelimit-limit-requests"] == "3"


def test_tokens_per_minute_count_the_inputs(settings: Settings) -> None:
    from run_services.api.main import create_app

    update = {"plans_path": LIMITED_PLANS, "default_plan": "tokens", "plan_cache_s": 0}
    app = create_app(settings.model_copy(update=update))
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        user = sign_up(client)
        words = ["red cat dog sun moon star white black green blue"] * 4  # 40 of the 60 tokens a minute
        first = embed(client, user, input=words)
        assert first.status_code == 200, first.text
        before = balance(client, user.headers)
        refused = embed(client, user, input=words)  # 44 were used: 40 more do not fit until they refill
        assert_error(refused, 429, "tokens_per_minute_exceeded")
        assert refused.headers["x-ratelimit-limit-tokens"] == "60"
        assert balance(client, user.headers) == before
        assert usage_count(refused.headers["x-request-id"]) == 0


def workspace_wallet(client: httpx.Client, user: User, workspace_id: str) -> dict[str, Any]:
    """The workspace wallet once no hold is pending."""
    deadline = time.monotonic() + 10
    while True:
        view: dict[str, Any] = client.get(
            f"/v1/workspaces/{workspace_id}/wallet", headers=user.headers
        ).json()
        if view["reserved"] == 0 or time.monotonic() > deadline:
            return view
        time.sleep(0.05)


def test_a_member_spends_the_workspace_wallet(
    client: httpx.Client, make_user: Callable[..., User], settings: Settings
) -> None:
    owner, member = make_user(), make_user()
    ws = create(client, owner)["id"]
    join(client, owner, ws, member)
    wallet = workspace_wallet_base(ws)
    grant_credits(settings, wallet, 100_000, shards=settings.workspace_wallet_shards)
    own_before = balance(client, member.headers)
    response = embed(client, member, input=TEXTS, headers={"X-Workspace-ID": ws})
    assert response.status_code == 200, response.text
    credits = response.json()["usage"]["credits"]
    record = usage_for(response.headers["x-request-id"])
    assert record["wallet_id"].startswith(f"ws-{ws}~") and record["workspace_id"] == ws
    assert record["credits"] == credits == FAKE.cost(reported_tokens(TEXTS))
    view = workspace_wallet(client, member, ws)
    assert view["available"] == 100_000 - credits and view["my_used_this_month"] == credits
    assert balance(client, member.headers) == own_before
    outsider = make_user()
    refused = embed(client, outsider, input="red", headers={"X-Workspace-ID": ws})
    assert_error(refused, 404, "workspace_not_found")


def test_a_call_over_the_daily_budget_is_402_and_charges_nothing(settings: Settings) -> None:
    from run_services.api.main import create_app

    update = {"plans_path": LIMITED_PLANS, "default_plan": "budget", "plan_cache_s": 0}
    app = create_app(settings.model_copy(update=update))
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        user = sign_up(client)
        before = balance(client, user.headers)
        # 8 credits a day; 10 words at 1.3 credits a token need a hold of 19 and at least 13.
        refused = embed(client, user, input="red cat dog sun moon star white black green blue")
        assert_error(refused, 402, "budget_exceeded")
        assert balance(client, user.headers) == before
        assert usage_count(refused.headers["x-request-id"]) == 0
        assert embed(client, user, input="red cat").status_code == 200  # 3 credits fit
