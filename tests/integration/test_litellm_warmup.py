"""LITELLM_WARMUP=auto (shared/bootstrap/warmup.py): an API instance whose configured models are all on
the native lane does not import litellm in the background (it stays ~150 MiB smaller, issue 15 item 3);
one with anything served through litellm does, and says what."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.bootstrap import build_services, close_services
from shared.bootstrap.warmup import litellm_users, should_warm
from shared.settings import Settings
from tests.fakes.provider import FakeProvider

pytestmark = pytest.mark.anyio

NATIVE_ONLY = """
[providers.fake]
api_base = "{base}"
api_key = "k"

[[models]]
id = "native-echo"
provider = "fake"
litellm_model = "openai/gpt-4o-mini"
input_price = 100000
output_price = 200000
context_window = 8192
max_output_tokens = 512
"""


def native_settings(
    settings: Settings, tmp_path: Path, fake_provider: FakeProvider, **extra: object
) -> Settings:
    catalog = tmp_path / "native.toml"
    catalog.write_text(NATIVE_ONLY.format(base=fake_provider.base_url))
    update = {"catalog_path": catalog, "default_model": "native-echo", "moderation_model": None, **extra}
    return settings.model_copy(update=update)


async def test_an_instance_served_natively_has_nothing_for_litellm_and_skips_the_warm_up(
    settings: Settings, tmp_path: Path, fake_provider: FakeProvider
) -> None:
    services = build_services(native_settings(settings, tmp_path, fake_provider))
    try:
        assert litellm_users(services, services.clients.settings) == []
        assert should_warm(services, services.clients.settings) == (False, [])
        forced = services.clients.settings.model_copy(update={"litellm_warmup": "always"})
        assert should_warm(services, forced) == (True, [])
    finally:
        await close_services(services)


async def test_anything_served_through_litellm_warms_it_up_and_is_named(settings: Settings) -> None:
    services = build_services(settings)  # the tests' catalog: translated models, embeddings, moderation
    try:
        warm, users = should_warm(services, settings)
        assert warm is True
        kinds = {user.split(":")[0] for user in users}
        assert {"chat", "embeddings", "guardrails"} <= kinds, users
        never = settings.model_copy(update={"litellm_warmup": "never"})
        assert should_warm(services, never)[0] is False
    finally:
        await close_services(services)


def test_the_setting_reads_the_old_on_off_words() -> None:
    for word, meant in (
        ("0", "never"),
        ("false", "never"),
        ("1", "always"),
        ("on", "always"),
        ("auto", "auto"),
    ):
        assert Settings(litellm_warmup=word).litellm_warmup == meant  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="litellm_warmup"):
        Settings(litellm_warmup="sometimes")  # type: ignore[arg-type]
