"""A plan's allowed models hold wherever a model is chosen: image, video and research jobs are refused at
creation (403 model_not_in_plan, no job, nothing reserved) and a speech-to-text session at its start. A
new workspace starts on the free plan (one seat, the free plan's limits) until a subscription pays for
more."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.cloud import firestore

from shared.settings import Settings
from tests.support.audio import open_stream, rest, start
from tests.support.helpers import balance, register
from tests.support.jobs import JobsStack
from tests.support.servers import ServerThread
from tests.support.workspaces import code

PLANS = """
[plans.narrow]
requests_per_minute = 1000
tokens_per_minute = 1000000

[plan_billing.narrow]
allowed_models = ["fake-echo", "fake-image", "fake-stt-broken"]
"""


def narrow(settings: Settings, path: Path) -> Settings:
    path.write_text(PLANS)
    return settings.model_copy(update={"plans_path": path, "default_plan": "narrow", "plan_cache_s": 0})


@pytest.fixture(scope="module")
def jobs_api(jobs_stack: JobsStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    from run_services.api.main import create_app

    app = create_app(narrow(jobs_stack.settings, tmp_path_factory.mktemp("narrow") / "plans.toml"))
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def stt_api(stt_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from run_services.api.main import create_app

    app = create_app(narrow(stt_settings, tmp_path_factory.mktemp("narrow-stt") / "plans.toml"))
    with ServerThread(app) as server:
        yield server.url


REFUSED: list[dict[str, Any]] = [
    {"type": "image", "input": {"prompt": "a red square", "model": "fake-pricey"}},
    {"type": "video", "input": {"prompt": "a red square", "model": "fake-video", "seconds": 2}},
    {"type": "research", "input": {"question": "What is Firestore?", "model": "fleet-strong"}},
]


@pytest.mark.parametrize("body", REFUSED, ids=[b["type"] for b in REFUSED])
def test_a_job_on_a_model_outside_the_plan_is_refused_before_anything_is_reserved(
    jobs_api: httpx.Client, body: dict[str, Any]
) -> None:
    _, headers = register(jobs_api)
    before = balance(jobs_api, headers)
    refused = jobs_api.post("/v1/jobs", json=body, headers=headers)
    assert code(refused) == (403, "model_not_in_plan"), refused.text
    assert "narrow" in refused.json()["error"]["message"]
    assert balance(jobs_api, headers) == before
    assert jobs_api.get("/v1/jobs", headers=headers).json()["data"] == []


def test_the_openai_images_route_is_refused_too_and_an_allowed_model_runs(jobs_api: httpx.Client) -> None:
    _, headers = register(jobs_api)
    before = balance(jobs_api, headers)
    body = {"prompt": "a red square", "model": "fake-pricey", "size": "1024x1024"}
    refused = jobs_api.post("/v1/images/generations", json=body, headers=headers)
    assert code(refused) == (403, "model_not_in_plan"), refused.text
    assert balance(jobs_api, headers) == before
    allowed = jobs_api.post(
        "/v1/jobs",
        json={"type": "image", "input": {"prompt": "a square", "model": "fake-image"}},
        headers=headers,
    )
    assert allowed.status_code == 202, allowed.text


def test_a_job_in_someone_elses_workspace_is_404_and_nothing_moves(jobs_api: httpx.Client) -> None:
    _, owner = register(jobs_api)
    _, stranger = register(jobs_api)
    ws = jobs_api.post("/v1/workspaces", json={"name": "Theirs"}, headers=owner).json()["id"]
    before = balance(jobs_api, stranger)
    body = {"type": "image", "input": {"prompt": "a red square", "model": "fake-image"}}
    answer = jobs_api.post("/v1/jobs", json=body, headers={**stranger, "X-Workspace-ID": ws})
    assert code(answer) == (404, "workspace_not_found")
    assert balance(jobs_api, stranger) == before
    assert jobs_api.get("/v1/jobs", headers=stranger).json()["data"] == []


def test_speech_to_text_on_a_model_outside_the_plan_is_refused_at_start(stt_api: str) -> None:
    with httpx.Client(base_url=stt_api, timeout=30) as client:
        _, headers = register(client)
        before = balance(client, headers)
        with open_stream(stt_api, headers) as ws:
            answer = start(ws, model="fake-stt")
            assert (answer["type"], answer["code"]) == ("error", "model_not_in_plan"), answer
            _, close_code = rest(ws)
        assert close_code == 4403
        assert balance(client, headers) == before
        with open_stream(stt_api, headers) as ws:  # a model of the plan starts
            assert start(ws, model="fake-stt-broken")["type"] == "started"


def test_a_new_workspace_starts_on_the_free_plan_until_a_subscription_pays(
    settings: Settings, sync_db: firestore.Client
) -> None:
    from run_services.api.main import create_app

    shipped = Settings.model_fields["workspace_default_plan"].default
    assert shipped == "free"
    app = create_app(settings.model_copy(update={"workspace_default_plan": shipped}))
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        _, owner = register(client)
        created = client.post("/v1/workspaces", json={"name": "Acme"}, headers=owner).json()
        assert (created["plan"], created["seats"]) == ("free", 1)
        invite = {"email": "someone@example.com", "role": "member"}
        path = f"/v1/workspaces/{created['id']}/invitations"
        assert code(client.post(path, json=invite, headers=owner)) == (409, "seats_exhausted")
        sync_db.collection("subscriptions").document(f"sub_{created['id']}").set(
            {
                "wallet_id": created["wallet_id"],
                "status": "active",
                "plan": "team",
                "seats": 3,
                "event_created": 1,
            }
        )
        paid = client.get(f"/v1/workspaces/{created['id']}", headers=owner).json()
        assert (paid["plan"], paid["seats"]) == ("team", 3)
        assert client.post(path, json=invite, headers=owner).status_code == 201
