"""Error reports (issue 16, item 7): off without SENTRY_DSN; with one, an unexpected error reaches Sentry (a
local collector here) with its type, stack and request id, and without PII, bodies, headers or locals."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from shared.settings import Settings
from tests.fakes.collectors import Collector
from tests.support.helpers import sign_up
from tests.support.leaks import CANARY_EMAIL, CANARY_PROMPT, CANARY_SECRET
from tests.support.servers import ServerThread


@pytest.fixture
def reported(settings: Settings) -> Iterator[tuple[Collector, Any, str]]:
    import sentry_sdk

    from run_services.api.main import create_app

    collector = Collector()
    with ServerThread(collector.app) as sink:
        dsn = f"http://publickey@127.0.0.1:{sink.port}/42"
        app = create_app(settings.model_copy(update={"sentry_dsn": SecretStr(dsn)}))
        try:
            with ServerThread(app) as api:
                yield collector, app, api.url
        finally:
            sentry_sdk.flush(2)
            sentry_sdk.init()  # no DSN: reports off again for the rest of the session


def test_an_unexpected_error_is_reported_without_pii(reported: tuple[Collector, Any, str]) -> None:
    import sentry_sdk

    collector, app, url = reported
    with httpx.Client(base_url=url, timeout=30) as client:
        user = sign_up(client)

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"lost the list of {CANARY_EMAIL} holding {CANARY_SECRET}")

        app.state.services.threads.list_threads = broken
        response = client.get("/v1/threads", headers={**user.headers, "X-Test": CANARY_PROMPT})
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "internal_error"  # the client learns nothing more
    sentry_sdk.flush(5)
    deadline = time.monotonic() + 10
    while not collector.events() and time.monotonic() < deadline:
        time.sleep(0.1)
    events = collector.events()
    assert events, "no event reached the collector"
    raw = b"".join(collector.envelopes).decode()
    for secret in (CANARY_EMAIL, CANARY_SECRET, CANARY_PROMPT, user.email, user.access_token):
        assert secret not in raw
    event = next(e for e in events if e.get("exception"))
    (exception,) = [x for x in event["exception"]["values"] if x["type"] == "RuntimeError"]
    assert exception["value"] == "lost the list of [email] holding [secret]"
    assert any(f.get("function") == "broken" for f in exception["stacktrace"]["frames"])
    assert all("vars" not in f for f in exception["stacktrace"]["frames"])
    assert event["tags"]["request_id"] == response.headers["x-request-id"]
    assert "request" not in event and "user" not in event


def test_no_dsn_no_reports(settings: Settings) -> None:
    from shared.telemetry.error_reports import configure_error_reports

    assert settings.sentry_dsn is None and configure_error_reports(settings) is False
