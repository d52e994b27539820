"""A plan's allowed models: a call to another model is refused with 403 before anything is reserved,
`auto` picks only allowed models, and a fallback outside the plan never serves. Also checks that the
shipped plans only name models of the shipped catalog."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.settings import DEFAULT_CATALOG, Settings
from tests.fakes.provider import FakeProvider, Fault
from tests.support.helpers import balance, register
from tests.support.servers import ServerThread

SHIPPED = Path(__file__).parent.parent.parent / "shared" / "plans" / "plans.toml"
MEDIA = Path(__file__).parent.parent.parent / "shared" / "catalog" / "media.toml"
PLANS = """
[plans.narrow]
requests_per_minute = 1000
tokens_per_minute = 1000000

[plan_billing.narrow]
allowed_models = ["fake-echo", "fleet-main"]
"""
HARD = "Please prove this step by step."


@pytest.fixture(scope="module")
def narrow_api(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from run_services.api.main import create_app

    path = tmp_path_factory.mktemp("narrow") / "plans.toml"
    path.write_text(PLANS)
    narrow = settings.model_copy(update={"plans_path": path, "default_plan": "narrow", "plan_cache_s": 0})
    with ServerThread(create_app(narrow)) as server:
        yield server.url


@pytest.fixture
def narrow(narrow_api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=narrow_api, timeout=60) as c:
        yield c


def ask(client: httpx.Client, headers: dict[str, str], model: str, text: str = "hi") -> httpx.Response:
    body = {"model": model, "max_tokens": 3, "messages": [{"role": "user", "content": text}]}
    return client.post("/v1/chat/completions", json=body, headers=headers)


def test_a_model_outside_the_plan_is_refused_and_nothing_moves(narrow: httpx.Client) -> None:
    _, headers = register(narrow)
    before = balance(narrow, headers)
    refused = ask(narrow, headers, "fleet-strong")
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "model_not_in_plan"
    assert "narrow" in refused.json()["error"]["message"]
    assert balance(narrow, headers) == before
    assert ask(narrow, headers, "fake-echo").status_code == 200


def test_auto_picks_an_allowed_model(narrow: httpx.Client) -> None:
    _, headers = register(narrow)
    # A hard prompt would go to the strong model (fleet-strong), which the plan does not allow.
    response = ask(narrow, headers, "auto", HARD)
    assert response.status_code == 200, response.text
    assert response.headers["x-model"] == "fake-echo"
    assert "not available" in response.headers["x-route-reason"]


def test_a_fallback_outside_the_plan_never_serves(narrow: httpx.Client, fake_provider: FakeProvider) -> None:
    _, headers = register(narrow)
    backup_calls = len(fake_provider.calls_for("fleet-backup"))
    fake_provider.always("fleet-main", Fault.http(503))
    try:
        response = ask(narrow, headers, "fleet-main")
    finally:
        fake_provider.reset()
    # fleet-backup would serve it, but the plan allows only fleet-main.
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "all_providers_failed"
    assert len(fake_provider.calls_for("fleet-backup")) == backup_calls


def test_the_shipped_plans_name_only_catalog_models() -> None:
    plans = tomllib.loads(SHIPPED.read_text())
    catalog = tomllib.loads(DEFAULT_CATALOG.read_text())
    media = tomllib.loads(MEDIA.read_text())
    ids = {m["id"] for m in catalog["models"]} | {m["id"] for m in catalog["embeddings"]}
    ids |= {m["id"] for kind in ("images", "videos", "transcription", "speech") for m in media[kind]}
    for name, offer in plans["plan_billing"].items():
        unknown = set(offer.get("allowed_models", [])) - ids
        assert not unknown, f"plan {name} allows models the catalog does not have: {sorted(unknown)}"
    assert plans["plan_billing"]["free"]["allowed_models"], "the free plan should be limited"
