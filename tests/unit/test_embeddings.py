"""Embeddings without a server: the shipped catalog entries, the checks made before anything is held,
the request's inputs, OpenAI's base64, and the hold's margin over our token estimate."""

from __future__ import annotations

import base64
import struct

import pytest

from shared.adapters.secrets import EnvSecrets
from shared.catalog.catalog import Catalog, UnknownModel
from shared.catalog.embeddings import EmbeddingCatalog, EmbeddingModel
from shared.embeddings.schemas import EmbeddingRequest, encode, usd
from shared.embeddings.service import check_request, worst_case_tokens
from shared.errors import BadRequest
from shared.settings import DEFAULT_CATALOG, Settings

MODEL = EmbeddingModel("m", "p", "openai/m", 20_000, 100, 4, 8, True, True)


def shipped(settings: Settings, env: dict[str, str]) -> EmbeddingCatalog:
    secrets = EnvSecrets(env)
    return EmbeddingCatalog.load(settings, Catalog.load(settings, secrets, DEFAULT_CATALOG), DEFAULT_CATALOG)


def test_shipped_models_are_offered_only_with_their_provider() -> None:
    none = shipped(Settings(local_embedding_url=None), {})
    assert none.available() == []
    with pytest.raises(UnknownModel) as refused:
        none.model("text-embedding-3-small")
    assert refused.value.code == "model_not_found" and refused.value.status == 404
    local = shipped(Settings(local_embedding_url="http://127.0.0.1:1/v1"), {})
    assert [m.id for m in local.available()] == ["all-minilm-l6-v2"] == [local.default_model]
    assert local.model("all-minilm-l6-v2").api_base == "http://127.0.0.1:1/v1"
    openai = shipped(Settings(local_embedding_url=None), {"OPENAI_API_KEY": "sk-test"})
    assert {m.id for m in openai.available()} == {"text-embedding-3-small", "text-embedding-3-large"}
    assert openai.model("text-embedding-3-small").api_key == "sk-test"


def test_shipped_entries_are_sane() -> None:
    for model in shipped(Settings(), {}).models.values():
        assert model.price > 0 and model.max_inputs >= 1 and model.max_input_tokens >= 1
        assert model.dimensions >= 1


def test_a_catalog_entry_without_a_price_is_refused_at_load(tmp_path: Settings) -> None:
    path = tmp_path / "models.toml"  # type: ignore[operator]
    path.write_text(
        '[providers.p]\napi_key = "k"\n[[embeddings]]\nid = "e"\nprovider = "p"\n'
        'litellm_model = "openai/e"\nprice = 0\nmax_input_tokens = 1\nmax_inputs = 1\ndimensions = 1\n'
    )
    settings = Settings()
    with pytest.raises(ValueError, match="positive"):
        EmbeddingCatalog.load(settings, Catalog.load(settings, EnvSecrets({}), path), path)


def test_cost_rounds_up() -> None:
    assert MODEL.cost(0) == 0
    assert MODEL.cost(1) == 1  # 0.02 credit
    assert MODEL.cost(50) == 1 and MODEL.cost(51) == 2
    assert usd(1_500) == 0.0015


@pytest.mark.parametrize(
    ("inputs", "dimensions", "code"),
    [(5, None, "too_many_inputs"), (1, 9, "invalid_dimensions")],
)
def test_limits_of_the_entry(inputs: int, dimensions: int | None, code: str) -> None:
    with pytest.raises(BadRequest) as refused:
        check_request(MODEL, inputs, dimensions)
    assert refused.value.code == code


def test_dimensions_only_where_adjustable() -> None:
    check_request(MODEL, 4, 8)
    fixed = EmbeddingModel("f", "p", "openai/f", 1, 10, 4, 8, False, True)
    with pytest.raises(BadRequest) as refused:
        check_request(fixed, 1, 8)
    assert refused.value.code == "dimensions_not_supported"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "empty_input"),
        ([], "empty_input"),
        (["a", ""], "empty_input"),
        ([1], "token_input_not_supported"),
    ],
)
def test_inputs_are_text(value: object, code: str) -> None:
    request = EmbeddingRequest.model_validate({"model": "m", "input": value})
    with pytest.raises(BadRequest) as refused:
        request.texts()
    assert refused.value.code == code


def test_a_string_is_one_input() -> None:
    assert EmbeddingRequest(model="m", input="hello").texts() == ["hello"]
    assert EmbeddingRequest(model="m", input=["a", "b"]).texts() == ["a", "b"]


def test_base64_is_openais_little_endian_float32() -> None:
    vector = [0.5, -1.25, 3.0]
    encoded = encode(vector, "base64")
    assert isinstance(encoded, str)
    assert base64.b64decode(encoded) == b"\x00\x00\x00?\x00\x00\xa0\xbf\x00\x00@@"
    assert list(struct.unpack("<3f", base64.b64decode(encoded))) == vector
    assert encode(vector, "float") == vector


def test_the_hold_covers_more_than_the_estimate() -> None:
    for estimate, inputs in ((1, 1), (10, 3), (1000, 2048)):
        assert worst_case_tokens(estimate, inputs) >= estimate + 2 * inputs
