"""Text-to-speech models of the media catalog and the checks of a speech request: the shipped models and
their prices, rounding, what is refused at load, and each 400 a body can earn (before anything is held)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.adapters.secrets import EnvSecrets
from shared.catalog.catalog import Catalog, Provider, UnknownModel
from shared.catalog.speech import CONTENT_TYPES, FORMATS, SpeechCatalog
from shared.errors import BadRequest
from shared.settings import DEFAULT_CATALOG, Settings
from shared.speech.schemas import SpeechBody

ENTRY = """
[[speech]]
id = "{id}"
provider = "p"
litellm_model = "openai/x"
price_per_million_chars = {price}
max_input_chars = 10
voices = ["alloy"]
formats = {formats}
"""


def load(tmp_path: Path, price: int = 1_500_000, formats: str = '["mp3", "wav"]') -> SpeechCatalog:
    path = tmp_path / "media.toml"
    path.write_text(ENTRY.format(id="m", price=price, formats=formats))
    catalog = Catalog(providers={"p": Provider("p", None, "k", True)}, models={}, default_model=None)
    return SpeechCatalog.load(Settings(), catalog, path)


def test_the_shipped_speech_models_and_their_prices() -> None:
    settings = Settings(local_model_url=None)
    models = Catalog.load(settings, EnvSecrets({"OPENAI_API_KEY": "sk-test"}), DEFAULT_CATALOG)
    speech = SpeechCatalog.load(settings, models)
    tts1, hd, mini = speech.model("tts-1"), speech.model("tts-1-hd"), speech.model("gpt-4o-mini-tts")
    assert tts1.price(1_000_000) == 15_000_000  # $15 per million characters
    assert hd.price(1_000_000) == 30_000_000
    assert tts1.price(4096) == 4096 * 15
    assert {m.max_input_chars for m in (tts1, hd, mini)} == {4096}
    assert set(tts1.formats) == set(FORMATS) and "alloy" in tts1.voices
    assert mini.instructions and not tts1.instructions
    # Gemini's key is not set: listed, not offered.
    with pytest.raises(UnknownModel):
        speech.model("gemini-2.5-flash-preview-tts")
    assert set(speech.models["gemini-2.5-flash-preview-tts"].formats) == {"wav", "pcm"}
    assert set(CONTENT_TYPES) == set(FORMATS)


def test_price_rounds_up_to_whole_credits(tmp_path: Path) -> None:
    model = load(tmp_path).model("m")  # 1.5 credits a character
    assert [model.price(n) for n in (1, 2, 3, 10)] == [2, 3, 5, 15]


@pytest.mark.parametrize(("price", "formats"), [(0, '["mp3"]'), (1, "[]"), (1, '["ogg"]')])
def test_bad_entries_are_refused_at_load(tmp_path: Path, price: int, formats: str) -> None:
    with pytest.raises(ValueError, match="speech model m"):
        load(tmp_path, price, formats)


def test_an_unknown_model_is_404(tmp_path: Path) -> None:
    with pytest.raises(UnknownModel, match="choose one of m"):
        load(tmp_path).model("nope")


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"input": "x" * 11}, "input_too_long"),
        ({"input": " "}, "empty_input"),
        ({"voice": "nova"}, "unsupported_voice"),
        ({"response_format": "flac"}, "unsupported_response_format"),
        ({"speed": 4.01}, "invalid_speed"),
        ({"instructions": "calm"}, "instructions_not_supported"),
        ({"stream_format": "sse"}, "unsupported_parameter"),
        ({"n": 2}, "unsupported_parameter"),
    ],
)
def test_each_bad_value_is_a_400_with_its_code(tmp_path: Path, fields: dict[str, Any], code: str) -> None:
    body = SpeechBody.model_validate({"model": "m", "input": "hello", "voice": "alloy", **fields})
    with pytest.raises(BadRequest) as refused:
        body.request(load(tmp_path).model("m"))
    assert refused.value.code == code


def test_a_good_body_becomes_the_provider_request(tmp_path: Path) -> None:
    body = SpeechBody.model_validate({"model": "m", "input": "hello", "voice": "ALLOY", "speed": 0.25})
    request = body.request(load(tmp_path).model("m"))
    assert (request.voice, request.response_format, request.speed) == ("alloy", "mp3", 0.25)
    assert request.instructions is None
