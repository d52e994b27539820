from __future__ import annotations

from pathlib import Path

import pytest

from shared.catalog.catalog import Catalog, ModelSpec, UnknownModel
from shared.secrets import EnvSecrets
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
