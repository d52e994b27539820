"""CORS on the running API: a browser on the web app's origin calls an authenticated route and reads the
headers it needs; the same call from another origin is not given to the page."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from shared.settings import LOCAL_ORIGINS
from tests.support.helpers import User


def test_the_web_app_origin_reads_an_authenticated_answer(
    client: httpx.Client, make_user: Callable[..., User]
) -> None:
    user = make_user()
    answer = client.get("/v1/models", headers={**user.headers, "Origin": LOCAL_ORIGINS[1]})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == LOCAL_ORIGINS[1]
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()
    other = client.get("/v1/models", headers={**user.headers, "Origin": "https://evil.example"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
