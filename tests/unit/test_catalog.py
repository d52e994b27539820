from __future__ import annotations

from pathlib import Path

import pytest

from shared.adapters.secrets import EnvSecrets
from shared.catalog.catalog import Catalog, ModelSpec, UnknownModel
from shared.settings import DEFAULT_CATALOG, Settings

SPEC = ModelSpec(
    "m", "p", "openai/m", input_price=150_000, output_price=600_000, context_window=100, max_output_tokens=50
)


def test_cost_rounds_up_to_whole_credits() -> None:
    assert SPEC.cost(0, 0) == 0
    assert SPEC.cost(1, 0) == 1  # 0.15 credit rounds up
    assert SPEC.cost(1000, 1000) == 150 + 600
    assert SPEC.cost(7, 3) == -(-(7 * 150_000 + 3 * 600_000) // 1_000_000)


def test_affordable_output_never_exceeds_the_credits() -> None:
    for credits in range(0, 200, 7):
        for prompt in (0, 5, 40):
            out = SPEC.affordable_output(credits, prompt)
            if out:
                assert SPEC.cost(prompt, out) <= credits
                assert SPEC.cost(prompt, out + 1) > credits or out == SPEC.max_output_tokens


def test_models_without_a_key_are_hidden(tmp_path: Path) -> None:
    settings = Settings(local_model_url=None)
    catalog = Catalog.load(settings, EnvSecrets({}), DEFAULT_CATALOG)
    assert catalog.available() == []
    with pytest.raises(UnknownModel):
        catalog.resolve("gpt-4o-mini")
    with_key = Catalog.load(settings, EnvSecrets({"OPENAI_API_KEY": "sk-test"}), DEFAULT_CATALOG)
    assert {m.provider for m in with_key.available()} == {"openai"}
    assert with_key.resolve("GPT-4o-mini")[0].id == "gpt-4o-mini"


def test_local_model_is_the_default_when_served() -> None:
    catalog = Catalog.load(Settings(local_model_url="http://127.0.0.1:1/v1"), EnvSecrets({}), DEFAULT_CATALOG)
    spec, provider = catalog.resolve(None)
    assert spec.id == "smollm2" and provider.api_base == "http://127.0.0.1:1/v1"
    assert catalog.resolve("local")[0].id == "smollm2"


def test_shipped_catalog_prices_are_integers() -> None:
    catalog = Catalog.load(Settings(), EnvSecrets({}), DEFAULT_CATALOG)
    for spec in catalog.models.values():
        assert isinstance(spec.input_price, int) and isinstance(spec.output_price, int)
        assert spec.max_output_tokens <= spec.context_window


FLEET_TOML = """
[providers.a]
api_base = "http://a.example/v1"
key = "A_KEY"
[providers.b]
api_base = "http://b.example/v1"
api_key = "b-inline"
[providers.vertex]
params_env = { vertex_project = "VERTEX_PROJECT", vertex_location = "VERTEX_LOCATION" }

[[models]]
id = "one"
provider = "b"
litellm_model = "openai/one"
input_price = 10
output_price = 20
context_window = 100
max_output_tokens = 50
fallbacks = ["TWO", "missing", "one", "three", "two"]

[[models]]
id = "two"
aliases = ["TWO"]
input_price = 5
output_price = 10
context_window = 100
max_output_tokens = 50
cache_read_price = 1
timeouts = { first_token_s = 3, idle_s = 4 }
max_attempts = 2
[[models.deployments]]
provider = "a"
litellm_model = "openai/two-a"
rpm = 60
tpm = 1000
[[models.deployments]]
provider = "b"
litellm_model = "openai/two-b"
api_base = "http://b2.example/v1"
[[models.deployments]]
provider = "b"
litellm_model = "openai/two-b3"
key = "B_SECOND_KEY"

[[models]]
id = "three"
provider = "vertex"
litellm_model = "vertex_ai/gemini-2.5-flash"
input_price = 1
output_price = 1
context_window = 100
max_output_tokens = 50
"""


def _fleet(tmp_path: Path, env: dict[str, str], **settings: str) -> Catalog:
    path = tmp_path / "fleet.toml"
    path.write_text(FLEET_TOML)
    return Catalog.load(Settings(**settings), EnvSecrets(env), path)  # type: ignore[arg-type]


def test_a_model_without_deployments_has_one_from_its_provider(tmp_path: Path) -> None:
    catalog = _fleet(tmp_path, {})
    (only,) = catalog.live_deployments(catalog.models["one"])
    assert only.id == "one@b#0" and only.litellm_model == "openai/one"
    assert (only.api_base, only.api_key) == ("http://b.example/v1", "b-inline")


def test_deployments_are_used_only_when_their_provider_and_key_are_configured(tmp_path: Path) -> None:
    two_without_a = _fleet(tmp_path, {}).live_deployments(_fleet(tmp_path, {}).models["two"])
    assert [d.id for d in two_without_a] == ["two@b#1"]  # a has no key, #2 names an unset key
    catalog = _fleet(tmp_path, {"A_KEY": "ka", "B_SECOND_KEY": "kb2"})
    a, b, b3 = catalog.live_deployments(catalog.models["two"])
    assert (a.id, a.litellm_model, a.api_key, a.rpm, a.tpm) == ("two@a#0", "openai/two-a", "ka", 60, 1000)
    assert (b.api_base, b.api_key, b.rpm) == ("http://b2.example/v1", "b-inline", None)
    assert (b3.id, b3.api_key, b3.api_base) == ("two@b#2", "kb2", "http://b.example/v1")
    spec = catalog.models["two"]
    assert (spec.provider, spec.litellm_model) == ("a", "openai/two-a")
    assert (spec.timeouts.first_token_s, spec.timeouts.idle_s, spec.timeouts.total_s) == (3, 4, None)
    assert spec.max_attempts == 2


def test_fallbacks_resolve_aliases_and_skip_unavailable_repeats_and_self(tmp_path: Path) -> None:
    catalog = _fleet(tmp_path, {})
    assert [m.id for m in catalog.fallbacks(catalog.models["one"])] == ["two"]  # three: no vertex project
    with_vertex = _fleet(tmp_path, {}, vertex_project="proj", vertex_location="europe-west4")
    assert [m.id for m in with_vertex.fallbacks(with_vertex.models["one"])] == ["two", "three"]
    (vertex,) = with_vertex.live_deployments(with_vertex.models["three"])
    assert dict(vertex.params) == {"vertex_project": "proj", "vertex_location": "europe-west4"}
    assert vertex.litellm_model.startswith("vertex_ai/")


def test_cache_prices_default_to_the_input_price(tmp_path: Path) -> None:
    catalog = _fleet(tmp_path, {})
    two, one = catalog.models["two"], catalog.models["one"]
    assert (two.read_price, two.write_price) == (1, 5)
    assert (one.read_price, one.write_price) == (10, 10)
    # 1M uncached input at 5, 2M cache reads at 1, 1M cache writes at 5, 1M output at 10.
    assert two.cost(1_000_000, 1_000_000, 2_000_000, 1_000_000) == 5 + 10 + 2 + 5


def test_shipped_catalog_enables_openai_compatible_and_vertex_only_when_configured() -> None:
    off = Catalog.load(Settings(), EnvSecrets({}), DEFAULT_CATALOG)
    assert off.find("openai-compatible") is None and off.find("gemini-2.5-flash-vertex") is None
    on = Catalog.load(
        Settings(vertex_project="p", vertex_location="us-central1"),
        EnvSecrets({"OPENAI_COMPATIBLE_API_KEY": "k", "OPENAI_COMPATIBLE_URL": "http://llm.internal/v1"}),
        DEFAULT_CATALOG,
    )
    compatible = on.find("openai-compatible")
    assert compatible is not None
    (d,) = on.live_deployments(compatible)
    assert (d.api_base, d.api_key, d.litellm_model) == ("http://llm.internal/v1", "k", "openai/default")
    assert on.find("gemini-2.5-flash-vertex") is not None
    claude = Catalog.load(
        Settings(), EnvSecrets({"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"}), DEFAULT_CATALOG
    )
    assert [m.id for m in claude.fallbacks(claude.models["claude-sonnet-4"])] == ["gpt-4.1"]


def test_a_providers_url_is_read_through_the_secret_source_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # The process environment reaches the catalog only through the secret source's env backend.
    monkeypatch.setenv("OPENAI_COMPATIBLE_URL", "http://from-the-environment/v1")
    secrets = EnvSecrets({"OPENAI_COMPATIBLE_API_KEY": "k", "OPENAI_COMPATIBLE_URL": "http://secret/v1"})
    catalog = Catalog.load(Settings(), secrets, DEFAULT_CATALOG)
    assert catalog.providers["openai_compatible"].api_base == "http://secret/v1"
    unset = Catalog.load(Settings(), EnvSecrets({"OPENAI_COMPATIBLE_API_KEY": "k"}), DEFAULT_CATALOG)
    assert not unset.providers["openai_compatible"].available


def test_capabilities_are_read_and_unknown_ones_refused(tmp_path: Path) -> None:
    base = (
        '[providers.p]\napi_key = "k"\n[[models]]\nid = "m"\nprovider = "p"\nlitellm_model = "openai/m"\n'
        "input_price = 1\noutput_price = 1\ncontext_window = 10\nmax_output_tokens = 5\n"
    )
    good = tmp_path / "good.toml"
    good.write_text(base + 'capabilities = ["tools", "images"]\n')
    spec = Catalog.load(Settings(), EnvSecrets(), good).models["m"]
    assert spec.supports("tools") and spec.supports("images")
    assert not spec.supports("response_format")
    bad = tmp_path / "bad.toml"
    bad.write_text(base + 'capabilities = ["tools", "telepathy"]\n')
    with pytest.raises(ValueError, match="telepathy"):
        Catalog.load(Settings(), EnvSecrets(), bad)


def test_the_shipped_catalog_names_only_known_capabilities() -> None:
    catalog = Catalog.load(Settings(), EnvSecrets())
    assert catalog.models["gpt-4o-mini"].supports("tools")
    assert catalog.models["gemini-2.5-flash"].supports("audio_in")
    assert not catalog.models["smollm2"].capabilities
