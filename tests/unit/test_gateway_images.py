"""The image adapter's OpenAI client uses the key the catalog read through the secret source, never one
from the process environment, and never retries by itself (Cloud Tasks retries the step)."""

from __future__ import annotations

import pytest

from shared.catalog.media import ImageModel
from shared.gateway.images import LitellmImages


def _model(api_key: str | None) -> ImageModel:
    base = "http://127.0.0.1:1/v1"
    return ImageModel("img", "p", "openai/img", (("1024x1024", 1),), 1, True, api_base=base, api_key=api_key)


def test_the_client_takes_the_providers_key_not_the_environments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    images = LitellmImages(timeout_s=5)
    assert images._openai_client(_model("sk-from-the-catalog")).api_key == "sk-from-the-catalog"
    keyless = images._openai_client(_model(None))
    assert keyless.api_key == "unset"
    assert str(keyless.base_url).rstrip("/") == "http://127.0.0.1:1/v1"


def test_the_client_never_retries_whatever_is_set() -> None:
    client = LitellmImages(timeout_s=5)._openai_client(_model("k"))
    client.max_retries = 2  # what litellm 1.106.2 does to the client of an image call
    assert client.max_retries == 0
