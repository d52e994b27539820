"""Fixtures of the jobs tests: a test module imports the `fixture_*` functions it uses (and their
dependencies); each is registered under its plain name (`jobs_client`, ...).

The backing services come from the devstack: Firestore, Pub/Sub, the Cloud Tasks emulator
(TASKS_EMULATOR_HOST) and the Storage emulator (STORAGE_EMULATOR_HOST). This process serves:
- the scripted image provider (tests/fakes/images.py), reached through litellm;
- the scripted video provider (tests/fakes/video.py, through litellm) and the scripted web-search API
  with its pages (tests/fakes/search.py), both started with the media catalog (`fake_videos`,
  `fake_search`); research model steps go to the chat fake (tests/fakes/provider.py) via the gateway;
- the jobs worker (functions/jobs/main.py's Worker) in a threaded WSGI server on a free port, which
  the Cloud Tasks emulator really calls over HTTP for every step;
- the API (uvicorn) with settings pointing at both, a queue, topic and bucket of this session's own.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flask
import httpx
import pytest
from google.api_core.exceptions import AlreadyExists
from google.auth.credentials import AnonymousCredentials
from google.cloud import pubsub_v1, storage
from werkzeug.serving import make_server

from functions.jobs.main import Worker
from shared.settings import Settings
from tests.conftest import ServerThread, User, free_port
from tests.fakes.images import FakeImages
from tests.fakes.search import KEY as SEARCH_KEY
from tests.fakes.search import FakeSearch
from tests.fakes.video import FakeVideos

WELCOME = 1_000_000  # the welcome credits of the test settings
IMAGE_PRICE = 40_000  # credits per image of the test model
PRICEY = 600_000  # the test model nobody's welcome credits can pay twice
VIDEO_SECOND_PRICE = 10_000  # credits per second of the test video model
SEARCH_PRICE = 3_000  # credits per web search
EXPORT_PRICE = 2_500  # credits per exported format
VIDEO_POLL_S = 1.0  # how long a video step waits between two checks of its operation
_fakes: dict[str, Any] = {}


def _need(var: str) -> str:
    value = os.environ.get(var)
    if not value:
        pytest.exit(f"{var} is not set: run the jobs tests through scripts.devstack.", returncode=3)
    return value


@pytest.fixture(scope="session", name="fake_images")
def fixture_fake_images() -> Iterator[FakeImages]:
    images = FakeImages()
    with ServerThread(images.app) as server:
        images.base_url = f"{server.url}/v1"
        yield images


@pytest.fixture(scope="session", name="media_file")
def fixture_media_file(tmp_path_factory: pytest.TempPathFactory, fake_images: FakeImages) -> Iterator[Path]:
    videos, search = FakeVideos(), FakeSearch()
    with ServerThread(videos.app) as video_server, ServerThread(search.app) as search_server:
        videos.base_url, search.base_url = f"{video_server.url}/v1", search_server.url
        _fakes.update(videos=videos, search=search)
        yield _media_toml(tmp_path_factory.mktemp("media") / "media.toml", fake_images, videos)


@pytest.fixture(name="fake_videos")
def fixture_fake_videos(media_file: Path) -> FakeVideos:
    videos: FakeVideos = _fakes["videos"]
    return videos


@pytest.fixture(name="fake_search")
def fixture_fake_search(media_file: Path) -> FakeSearch:
    search: FakeSearch = _fakes["search"]
    return search


def _media_toml(path: Path, fake_images: FakeImages, videos: FakeVideos) -> Path:
    path.write_text(
        f"""
default_image_model = "fake-image"
default_video_model = "fake-video"

[[images]]
id = "fake-image"
provider = "fake"
litellm_model = "openai/fake-image"
api_base = "{fake_images.base_url}"
max_n = 4
prices = {{ "256x256" = {IMAGE_PRICE // 2}, "1024x1024" = {IMAGE_PRICE} }}

[[images]]
id = "fake-pricey"
provider = "fake"
litellm_model = "openai/fake-pricey"
api_base = "{fake_images.base_url}"
max_n = 4
prices = {{ "1024x1024" = {PRICEY} }}

[[images]]
id = "fake-disabled"
provider = "nobody"
litellm_model = "openai/fake-disabled"
prices = {{ "1024x1024" = 1 }}

[[videos]]
id = "fake-video"
provider = "fake"
litellm_model = "openai/fake-video"
api_base = "{videos.base_url}"
price_per_second = {VIDEO_SECOND_PRICE}
seconds = [2, 4]
sizes = ["1280x720", "720x1280"]

[search]
price = {SEARCH_PRICE}

[export]
price_per_format = {EXPORT_PRICE}
"""
    )
    return path


@dataclass
class JobsStack:
    settings: Settings
    api: str
    worker_url: str
    worker: Worker


@pytest.fixture(scope="session", name="jobs_stack")
def fixture_jobs_stack(settings: Settings, media_file: Path) -> Iterator[JobsStack]:
    from run_services.api.main import create_app

    run = uuid.uuid4().hex[:8]
    port = free_port()
    os.environ.setdefault("TAVILY_API_KEY", SEARCH_KEY)  # read through the secret source
    worker_url = f"http://127.0.0.1:{port}/"
    jobs_settings = settings.model_copy(
        update={
            "tasks_emulator_host": _need("TASKS_EMULATOR_HOST"),
            "storage_emulator_host": _need("STORAGE_EMULATOR_HOST"),
            "pubsub_emulator_host": _need("PUBSUB_EMULATOR_HOST"),
            "jobs_queue": f"jobs-{run}",
            "jobs_topic": f"job-events-{run}",
            "jobs_bucket": f"jobs-test-{run}",
            "jobs_worker_url": worker_url,
            "jobs_max_attempts": 3,
            "jobs_step_lease_s": 30,
            "jobs_events_poll_s": 0.1,
            "images_wait_s": 20.0,
            "media_catalog_path": media_file,
            "video_poll_s": VIDEO_POLL_S,
            "search_provider": "tavily",
            "search_api_base": _fakes["search"].base_url,
            "research_allow_private_urls": True,  # the fake's pages are on 127.0.0.1
            "research_fetch_timeout_s": 5.0,
        }
    )
    worker = Worker(jobs_settings)
    app = flask.Flask("jobs-worker")
    app.add_url_rule("/", "run_step", lambda: worker.handle(flask.request), methods=["POST"])
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with ServerThread(create_app(jobs_settings)) as api:
            yield JobsStack(jobs_settings, api.url, worker_url, worker)
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(name="jobs_client")
def fixture_jobs_client(jobs_stack: JobsStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=jobs_stack.api, timeout=60) as c:
        yield c


@pytest.fixture(name="jobs_user")
def fixture_jobs_user(jobs_client: httpx.Client) -> Callable[[], User]:
    def make() -> User:
        email = f"j{uuid.uuid4().hex[:12]}@example.com"
        password = "correct horse battery staple"
        response = jobs_client.post("/v1/auth/register", json={"email": email, "password": password})
        assert response.status_code == 201, response.text
        body = response.json()
        return User(body["user"]["id"], email, password, body["access_token"], body["refresh_token"])

    return make


def wait_for_job(
    client: httpx.Client,
    user: User,
    job_id: str,
    until: Callable[[dict[str, Any]], bool],
    timeout: float = 30,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(f"/v1/jobs/{job_id}", headers=user.headers)
        assert response.status_code == 200, response.text
        job = response.json()
        if until(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never got there: {job}")


def finished(job: dict[str, Any]) -> bool:
    return job["state"] in ("succeeded", "failed", "cancelled")


def storage_client() -> storage.Client:
    host = os.environ["STORAGE_EMULATOR_HOST"]
    return storage.Client(
        project="demo-test", credentials=AnonymousCredentials(), client_options={"api_endpoint": host}
    )


class Subscription:
    """A pull subscription on the jobs topic of this session, in the Pub/Sub emulator."""

    def __init__(self, project: str, topic: str) -> None:
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        topic_path = self.publisher.topic_path(project, topic)
        with contextlib.suppress(AlreadyExists):
            self.publisher.create_topic(name=topic_path)
        self.path = self.subscriber.subscription_path(project, f"sub-{uuid.uuid4().hex[:10]}")
        self.subscriber.create_subscription(name=self.path, topic=topic_path)

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float = 20) -> dict[str, Any]:
        import json

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.subscriber.pull(subscription=self.path, max_messages=50, timeout=5)
            ids = [m.ack_id for m in response.received_messages]
            if ids:
                self.subscriber.acknowledge(subscription=self.path, ack_ids=ids)
            for message in response.received_messages:
                data = json.loads(message.message.data)
                if match(data):
                    return dict(data)
        raise AssertionError("no matching message was published")

    def close(self) -> None:
        self.subscriber.delete_subscription(subscription=self.path)
        self.subscriber.close()


def hold_of(job_id: str, timeout: float = 10) -> dict[str, Any]:
    """The ledger hold of a finished job, read from Firestore. The job's final state is written just
    before its hold is closed, so wait (briefly) while the hold is still pending."""
    from tests.support.helpers import db

    job = db().collection("jobs").document(job_id).get().to_dict() or {}
    wallet = db().collection("wallets").document(job["wallet_id"])
    deadline = time.monotonic() + timeout
    while True:
        hold = wallet.collection("holds").document(f"job:{job_id}").get().to_dict() or {}
        if hold.get("state") != "pending" or time.monotonic() > deadline:
            return hold
        time.sleep(0.05)
