"""The jobs worker the devstack starts (functions/jobs/main.py under functions-framework) answers, with
the emulators' addresses it was given: a step of a job that does not exist is acknowledged."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest


def test_the_devstack_worker_acknowledges_an_unknown_job() -> None:
    url = os.environ.get("JOBS_WORKER_URL")
    if not url:
        pytest.skip("JOBS_WORKER_URL is set by scripts.devstack; run through it")
    for var in ("TASKS_EMULATOR_HOST", "STORAGE_EMULATOR_HOST"):
        assert os.environ.get(var), f"the devstack exports {var}"
    response = httpx.post(
        url,
        json={"job_id": f"none-{uuid.uuid4().hex}", "step": 0},
        headers={"X-CloudTasks-TaskRetryCount": "0"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"] == "missing"
