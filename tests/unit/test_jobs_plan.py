"""Pure parts of jobs: pricing and validating image jobs, step and task names, the Cloud Task a step
becomes (with an OIDC token in the cloud, without one against the emulator)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest

from shared.adapters.tasks import TaskQueue
from shared.catalog.catalog import Catalog, Provider, UnknownModel
from shared.catalog.media import MediaCatalog
from shared.jobs.errors import InvalidJob
from shared.jobs.image_job import ImageJob
from shared.jobs.kinds import Plan
from shared.jobs.schemas import ImageInput, JobCreate, task_id
from shared.settings import Settings

MEDIA = """
default_image_model = "img"

[[images]]
id = "img"
provider = "p"
litellm_model = "openai/img"
max_n = 3
prices = { "1024x1024" = 40000, "512x512" = 10000 }

[[images]]
id = "off"
provider = "missing"
litellm_model = "openai/off"
prices = { "1024x1024" = 1 }
"""


def media(tmp_path: Path) -> MediaCatalog:
    path = tmp_path / "media.toml"
    path.write_text(MEDIA)
    catalog = Catalog(providers={"p": Provider("p", "http://x/v1", "k", True)}, models={}, default_model=None)
    return MediaCatalog.load(Settings(), catalog, path)


class NoImages:
    async def generate(self, *_args: object) -> bytes:  # pragma: no cover - plan() never calls it
        raise AssertionError


class NoStore:
    async def put_if_absent(self, path: str, data: bytes, content_type: str) -> bool:  # pragma: no cover
        raise AssertionError

    async def read(self, path: str) -> bytes | None:  # pragma: no cover
        raise AssertionError

    async def signed_url(self, path: str, ttl_s: int | None = None) -> str:  # pragma: no cover
        raise AssertionError


def plan(tmp_path: Path, **spec: object) -> Plan:
    kind = ImageJob(media(tmp_path), NoImages(), NoStore(), deadline_s=600)
    return kind.plan(JobCreate(type="image", input=ImageInput.model_validate({"prompt": "p", **spec})))


def test_an_image_job_costs_its_images_at_the_size_price(tmp_path: Path) -> None:
    result = plan(tmp_path, n=3, size="512x512")
    assert result.price == 30000 and result.steps == 3 and result.deadline_s == 600
    assert result.params == {
        "prompt": "p",
        "model": "img",
        "n": 3,
        "size": "512x512",
        "unit_price": 10000,
    }


@pytest.mark.parametrize(
    ("spec", "error", "code"),
    [
        ({"size": "7x7"}, InvalidJob, "unsupported_size"),
        ({"n": 4}, InvalidJob, "too_many_images"),
        ({"model": "nope"}, UnknownModel, "model_not_found"),
        ({"model": "off"}, UnknownModel, "model_not_found"),
    ],
)
def test_bad_image_jobs_are_refused_before_anything_happens(
    tmp_path: Path, spec: dict[str, object], error: type[Exception], code: str
) -> None:
    with pytest.raises(error) as caught:
        plan(tmp_path, **spec)
    assert getattr(caught.value, "code", None) == code


def test_task_names_are_deterministic_per_step_and_redrive() -> None:
    assert task_id("abc", 2) == task_id("abc", 2) == "job-abc-2"
    assert task_id("abc", 2, 1) == "job-abc-2-r1"


def queue(monkeypatch: pytest.MonkeyPatch, **overrides: object) -> TaskQueue:
    monkeypatch.delenv("TASKS_EMULATOR_HOST", raising=False)
    settings = Settings(
        GOOGLE_CLOUD_PROJECT="proj",
        jobs_worker_url="https://worker.example/",
        **overrides,  # type: ignore[arg-type]
    )
    return TaskQueue(settings)


def test_a_cloud_task_carries_an_oidc_token_for_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    q = queue(monkeypatch, tasks_service_account="tasks@proj.iam.gserviceaccount.com")
    at = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    task = q._task("job-abc-0", {"job_id": "abc", "step": 0}, at)
    assert task.name == "projects/proj/locations/us-central1/queues/jobs/tasks/job-abc-0"
    assert task.http_request.url == "https://worker.example/"
    assert json.loads(task.http_request.body) == {"job_id": "abc", "step": 0}
    assert task.http_request.oidc_token.service_account_email == "tasks@proj.iam.gserviceaccount.com"
    assert task.http_request.oidc_token.audience == "https://worker.example/"
    assert task.schedule_time.timestamp() == at.timestamp()


def test_the_audience_setting_wins_and_the_emulator_gets_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    q = queue(monkeypatch, tasks_service_account="t@p.iam.gserviceaccount.com", jobs_oidc_audience="aud")
    assert q._task("t", {}, None).http_request.oidc_token.audience == "aud"
    local = queue(monkeypatch, tasks_service_account="t@p.iam.gserviceaccount.com", tasks_emulator_host="h:1")
    assert not local._task("t", {}, None).http_request.oidc_token.service_account_email


@pytest.mark.parametrize("bad", ["", "a/b", "x" * 501, "job:1"])
def test_invalid_task_ids_are_refused(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    with pytest.raises(ValueError):
        asyncio.run(queue(monkeypatch).enqueue(bad, {}))
