"""Shared fixtures. The backing services (Firestore emulator, Redis, local model) are started by
`make test` (scripts/devstack.py), which exports FIRESTORE_EMULATOR_HOST, REDIS_URL and LOCAL_MODEL_URL.
The API runs in-process under a real uvicorn server on a free port, so every test talks HTTP."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from shared.settings import Settings
from tests.fakes.provider import FakeProvider
from tests.support.helpers import User, sign_up
from tests.support.servers import ServerThread

# Every log line of the session is scanned for prompts, emails and secrets (tests/support/leaks.py).
pytest_plugins = ["tests.support.leaks"]

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("GOOGLE_CLOUD_PROJECT", "demo-test")

TEST_JWT_SECRET = "test-only-secret-" + uuid.uuid4().hex


def _need(var: str) -> str:
    value = os.environ.get(var)
    if not value:
        pytest.exit(
            f"{var} is not set: run the tests with `make test` (it starts the emulators).", returncode=3
        )
    return value


@pytest.fixture
def anyio_backend() -> str:
    """The async tests (`pytest.mark.anyio`) run on asyncio only: the code under test is asyncio code."""
    return "asyncio"


@pytest.fixture(scope="session")
def fake_provider() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    with ServerThread(provider.app) as server:
        provider.base_url = f"{server.url}/v1"
        yield provider


@pytest.fixture(scope="session")
def catalog_file(tmp_path_factory: pytest.TempPathFactory, fake_provider: FakeProvider) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "models.toml"
    path.write_text(fake_provider.catalog_toml())
    return path


@pytest.fixture(scope="session")
def plans_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped plans, except that the free plan may call any model: the tests call the fake
    provider's models. tests/integration/test_plan_models.py checks the shipped allowlists."""
    text = (Path(__file__).parent.parent / "shared" / "plans" / "plans.toml").read_text()
    free = text.index("[plan_billing.free]")
    line = text.index("allowed_models", free)
    end = text.index("\n", line)
    assert "\n[" not in text[free + 1 : line], "the free plan has no allowed_models line any more"
    path = tmp_path_factory.mktemp("plans") / "plans.toml"
    path.write_text(text[:line] + text[end + 1 :])
    return path


@pytest.fixture(scope="session")
def settings(catalog_file: Path, plans_file: Path) -> Settings:
    _need("FIRESTORE_EMULATOR_HOST")
    return Settings(
        environment="test",
        trace_exporter="memory",  # the span trees are read back by tests/integration/test_traces.py
        metrics_exporter="prometheus",  # read back at /internal/metrics (tests/integration/test_metrics.py)
        metrics_token="test-metrics-token",
        GOOGLE_CLOUD_PROJECT=os.environ["GOOGLE_CLOUD_PROJECT"],
        redis_url=_need("REDIS_URL"),
        jwt_secret=TEST_JWT_SECRET,
        MODEL_CATALOG=catalog_file,
        local_model_url=os.environ.get("LOCAL_MODEL_URL"),
        local_embedding_url=os.environ.get("LOCAL_EMBEDDING_URL"),
        default_model="fake-echo",
        knowledge_embedding_model="fake-embed",  # vector stores (shared/knowledge/) embed with the fake
        moderation_model="omni-moderation-latest",  # the fake provider's /v1/moderations, when enabled
        moderation_provider="fake",
        welcome_credits=1_000_000,
        google_client_id="test-client-id.apps.googleusercontent.com",
        auth_rate_per_minute=10_000,
        # Sign-up (issue 11, items 1 and 7): new accounts are verified at once, so the tests that need a
        # credited user stay simple (tests/integration/test_auth_verify.py runs the real flow through the
        # mail catcher), and the sign-up and login limits are out of the way (their own tests set them).
        auth_auto_verify_email=True,
        signup_per_address_per_hour=1_000_000,
        signup_global_per_hour=1_000_000,
        login_free_failures=1_000,
        signup_min_response_s=0.0,
        plans_path=plans_file,
        # The workspace tests invite members without a subscription: team's three seats. The shipped
        # default (the free plan) is checked by tests/integration/test_plan_models_everywhere.py.
        workspace_default_plan="team",
        # Credit leases off (CREDIT_LEASE_CREDITS=0): every call makes its own hold, so the tests' exact
        # balances hold the moment a call ends. The lease tests turn them on for themselves.
        credit_lease_credits=0,
    )


@pytest.fixture(scope="session")
def api(settings: Settings) -> Iterator[str]:
    from run_services.api.main import create_app

    with ServerThread(create_app(settings)) as server:
        yield server.url


@pytest.fixture
def client(api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api, timeout=60) as c:
        yield c


@pytest.fixture
def make_user(client: httpx.Client) -> Callable[..., User]:
    """Register a fresh account through the API, sign it in and return its tokens."""

    def make(password: str = "correct horse battery staple") -> User:
        return sign_up(client, password=password)

    return make


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    return make_user()
