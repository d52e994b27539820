"""The worker with OIDC on, as in the cloud: a step without the tasks service account's token for the
worker's audience is refused (401, nothing runs); with it, the step is handled."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import flask
import pytest

from functions.jobs.main import Worker
from shared.settings import Settings
from tests.fakes.google_certs import FakeGoogle

AUDIENCE = "https://jobs-worker.example/"
TASKS_SA = "tasks@demo-test.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle(AUDIENCE).serve() as fake:
        yield fake


@pytest.fixture(scope="module")
def app(settings: Settings, google: FakeGoogle) -> Iterator[flask.Flask]:
    secured = settings.model_copy(
        update={
            "jobs_oidc_audience": AUDIENCE,
            "tasks_service_account": TASKS_SA,
            "google_certs_url": google.certs_url,
        }
    )
    worker = Worker(secured)
    app = flask.Flask("secured-worker")
    app.add_url_rule("/", "run_step", lambda: worker.handle(flask.request), methods=["POST"])
    yield app
    worker.loop.stop()


def step() -> dict[str, object]:
    return {"job_id": f"none-{uuid.uuid4().hex}", "step": 0}


def test_a_step_without_a_token_is_refused(app: flask.Flask) -> None:
    response = app.test_client().post("/", json=step())
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_oidc_token"


def test_a_token_from_another_account_is_refused(app: flask.Flask, google: FakeGoogle) -> None:
    token = google.id_token(email="someone@else.iam.gserviceaccount.com")
    response = app.test_client().post("/", json=step(), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_the_tasks_account_token_is_accepted(app: flask.Flask, google: FakeGoogle) -> None:
    token = google.id_token(email=TASKS_SA)
    response = app.test_client().post("/", json=step(), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json()["result"] == "missing"
