"""Fixtures of the integration tests (run through scripts.devstack, which starts the emulators and Redis).

- `db` / `sync_db`: a Firestore client (async / sync) of the emulator, closed after the test;
- `clock`: the time the ledger reads (`shared.clock.now`), moved only by the test;
- the speech-to-text fake and its settings (`fake_stt`, `stt_settings`);
- the jobs stack (`jobs_stack`, `jobs_client`, `jobs_user`, the image, video and search fakes). Its backing
  services come from the devstack: Firestore, Pub/Sub, the Cloud Tasks emulator (TASKS_EMULATOR_HOST) and
  the Storage emulator (STORAGE_EMULATOR_HOST). This process serves the scripted image provider
  (tests/fakes/images.py) and the scripted video provider (tests/fakes/video.py), both reached through
  litellm, the scripted web-search API with its pages (tests/fakes/search.py); research model steps go to
  the chat fake (tests/fakes/provider.py) via the gateway; the jobs worker (functions/jobs/main.py's
  Worker) runs in a threaded WSGI server on a free port, which the Cloud Tasks emulator really calls over
  HTTP for every step; and the API (uvicorn) with settings pointing at both, a queue, topic and bucket of
  this session's own;
- the payments stack (`keys`, `fake_stripe`, `fake_ssl`, `payments_env`, `billing_api`, `api_client`,
  `buyer`, `function`): secrets generated per module, the local Stripe and SSLCommerz fakes, the API
  configured to use them and the payments function's test client.

Helpers (non-fixtures) of the same subjects are in tests/support/."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import flask
import httpx
import pytest
from google.cloud import firestore
from redis.asyncio import Redis
from werkzeug.serving import make_server

from functions.jobs.main import Worker
from scripts.stack import free_port
from shared import clock as shared_clock
from shared.settings import Settings, get_settings
from tests.fakes.images import FakeImages
from tests.fakes.provider import FakeProvider
from tests.fakes.search import KEY as SEARCH_KEY
from tests.fakes.search import FakeSearch
from tests.fakes.sslcommerz import FakeSslCommerz
from tests.fakes.stripe_api import FakeStripe
from tests.fakes.transcription import FakeTranscription
from tests.fakes.video import FakeVideos
from tests.support.audio import PRICE as STT_PRICE
from tests.support.helpers import User, sign_up
from tests.support.jobs import (
    EXPORT_PRICE,
    IMAGE_PRICE,
    PRICEY,
    SEARCH_PRICE,
    VIDEO_POLL_S,
    VIDEO_SECOND_PRICE,
    JobsStack,
)
from tests.support.ledger import close_client
from tests.support.lots import Clock
from tests.support.payments import SOURCE, STORE_ID, Secrets
from tests.support.servers import ServerThread

_fakes: dict[str, Any] = {}


@pytest.fixture
async def db() -> AsyncIterator[firestore.AsyncClient]:
    client = firestore.AsyncClient(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    yield client
    await close_client(client)


@pytest.fixture
def sync_db() -> Iterator[firestore.Client]:
    client = firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    yield client
    client.close()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(shared_clock, "now", fake)
    return fake


# Speech to text.


@pytest.fixture(scope="module")
def fake_stt() -> Iterator[FakeTranscription]:
    fake = FakeTranscription()
    with ServerThread(fake.app) as server:
        fake.base_url = f"{server.url}/v1"
        yield fake


@pytest.fixture(scope="module")
def stt_settings(
    settings: Settings, fake_stt: FakeTranscription, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    path = tmp_path_factory.mktemp("audio") / "media.toml"
    path.write_text(
        f"""
[[transcription]]
id = "fake-stt"
provider = "fake"
litellm_model = "openai/fake-stt"
api_base = "{fake_stt.base_url}"
price_per_second = {STT_PRICE}

[[transcription]]
id = "fake-stt-broken"
provider = "fake"
litellm_model = "openai/broken"
api_base = "{fake_stt.base_url}"
price_per_second = {STT_PRICE}
"""
    )
    return settings.model_copy(
        update={
            "media_catalog_path": path,
            "stt_partial_every_s": 1.0,
            "stt_min_seconds": 2,
            "stt_max_seconds": 60,
            "stt_idle_timeout_s": 20.0,
        }
    )


# The jobs stack.


def _need(var: str) -> str:
    value = os.environ.get(var)
    if not value:
        pytest.exit(f"{var} is not set: run the jobs tests through scripts.devstack.", returncode=3)
    return value


@pytest.fixture(scope="session")
def fake_images() -> Iterator[FakeImages]:
    images = FakeImages()
    with ServerThread(images.app) as server:
        images.base_url = f"{server.url}/v1"
        yield images


@pytest.fixture(scope="session")
def media_file(tmp_path_factory: pytest.TempPathFactory, fake_images: FakeImages) -> Iterator[Path]:
    videos, search = FakeVideos(), FakeSearch()
    with ServerThread(videos.app) as video_server, ServerThread(search.app) as search_server:
        videos.base_url, search.base_url = f"{video_server.url}/v1", search_server.url
        _fakes.update(videos=videos, search=search)
        yield _media_toml(tmp_path_factory.mktemp("media") / "media.toml", fake_images, videos)


@pytest.fixture
def fake_videos(media_file: Path) -> FakeVideos:
    videos: FakeVideos = _fakes["videos"]
    return videos


@pytest.fixture
def fake_search(media_file: Path) -> FakeSearch:
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


@pytest.fixture(scope="session")
def jobs_stack(settings: Settings, media_file: Path) -> Iterator[JobsStack]:
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


@pytest.fixture
def jobs_client(jobs_stack: JobsStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=jobs_stack.api, timeout=60) as c:
        yield c


@pytest.fixture
def jobs_user(jobs_client: httpx.Client) -> Callable[[], User]:
    def make() -> User:
        return sign_up(jobs_client, f"j{uuid.uuid4().hex[:12]}@example.com")

    return make


# The payments stack.


@pytest.fixture(scope="module")
def keys() -> Secrets:
    return Secrets()


@pytest.fixture(scope="module")
def fake_stripe(keys: Secrets) -> Iterator[tuple[FakeStripe, str]]:
    fake = FakeStripe(keys.stripe_key)
    with ServerThread(fake.app) as server:
        yield fake, server.url


@pytest.fixture(scope="module")
def fake_ssl(keys: Secrets) -> Iterator[tuple[FakeSslCommerz, str]]:
    fake = FakeSslCommerz(STORE_ID, keys.store_password)
    with ServerThread(fake.app) as server:
        yield fake, server.url


@pytest.fixture(scope="module")
def payments_env(
    keys: Secrets, fake_stripe: tuple[FakeStripe, str], fake_ssl: tuple[FakeSslCommerz, str]
) -> Iterator[dict[str, str]]:
    """The environment both the API and the function read their billing settings and secrets from."""
    env = {
        "STRIPE_SECRET_KEY": keys.stripe_key,
        "STRIPE_WEBHOOK_SECRETS": f"{keys.webhook_old},{keys.webhook_new}",
        "STRIPE_API_BASE": fake_stripe[1],
        "SSLCOMMERZ_STORE_PASSWORD": keys.store_password,
        "SSLCOMMERZ_STORE_ID": STORE_ID,
        "SSLCOMMERZ_API_BASE": fake_ssl[1],
        "SSLCOMMERZ_TIMEOUT_S": "1",
        "PAYMENTS_URL": "http://payments.test",
        "BILLING_RETURN_URL": "http://app.test/billing",
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        get_settings.cache_clear()
        yield env
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def billing_api(settings: Settings, payments_env: dict[str, str]) -> Iterator[str]:
    from run_services.api.main import create_app

    configured = settings.model_copy(
        update={
            "stripe_api_base": payments_env["STRIPE_API_BASE"],
            "sslcommerz_api_base": payments_env["SSLCOMMERZ_API_BASE"],
            "sslcommerz_store_id": STORE_ID,
            "sslcommerz_timeout_s": 1.0,
            "payments_url": payments_env["PAYMENTS_URL"],
            "billing_return_url": payments_env["BILLING_RETURN_URL"],
        }
    )
    with ServerThread(create_app(configured)) as server:
        yield server.url


@pytest.fixture
def api_client(billing_api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=billing_api, timeout=30) as c:
        yield c


@pytest.fixture
def buyer(api_client: httpx.Client) -> User:
    return sign_up(api_client, f"b{uuid.uuid4().hex[:12]}@example.com", "correct horse battery")


@pytest.fixture
def function(payments_env: dict[str, str]) -> Iterator[Any]:
    """The payments function's Flask app (its own module instance); root logging restored after."""
    import functions_framework

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield functions_framework.create_app(target="payments", source=str(SOURCE))
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def fleet(fake_provider: FakeProvider) -> Iterator[FakeProvider]:
    """The fake provider fleet with its call log emptied before the test, and its scripted faults and
    the router's Redis state of the fleet models (breakers, RPM/TPM buckets) cleared after it."""
    import redis

    fake_provider.calls.clear()
    yield fake_provider
    fake_provider.reset()
    r = redis.Redis.from_url(_need("REDIS_URL"))
    try:
        for pattern in ("cb:*fleet-*", "lb:*fleet-*"):
            keys = list(r.scan_iter(match=pattern))
            if keys:
                r.delete(*keys)
    finally:
        r.close()


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A client of the test Redis (decoded replies), closed after the test (anyio tests only)."""
    client = Redis.from_url(_need("REDIS_URL"), decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def other_redis() -> AsyncIterator[Redis]:
    """A second connection pool, as another Cloud Run instance would have (and bytes replies)."""
    client = Redis.from_url(_need("REDIS_URL"), decode_responses=False)
    try:
        yield client
    finally:
        await client.aclose()
