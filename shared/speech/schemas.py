"""The body of POST /v1/audio/speech (OpenAI's shape) and its checks against the chosen model.

Types are checked by the model below (a wrong type is FastAPI's 422); everything a valid-looking body can
still get wrong (empty or too long input, a voice, format or speed the model does not take, parameters we
do not support) is a 400 with its own code, raised before anything is reserved.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.catalog.speech import SpeechModel
from shared.errors import BadRequest
from shared.gateway.speech import SpeechRequest

MIN_SPEED = 0.25
MAX_SPEED = 4.0
MAX_INSTRUCTIONS_CHARS = 4096


class SpeechBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(max_length=200, description="A speech model of the catalog, e.g. `tts-1`.")
    input: str = Field(description="The text to speak; priced per character, at most the model's limit.")
    voice: str | dict[str, Any] = Field(description="One of the model's voices, e.g. `alloy`.")
    response_format: str = Field("mp3", description="mp3, opus, aac, flac, wav or pcm (the model's).")
    speed: float | None = Field(None, description="0.25 to 4.0; 1.0 is normal speed.")
    instructions: str | None = Field(None, description="How to speak (gpt-4o-mini-tts only).")
    stream_format: str | None = Field(None, description="`audio` only: the bytes, streamed as made.")

    def request(self, model: SpeechModel) -> SpeechRequest:
        """What to ask the provider, once every value is one `model` takes; BadRequest otherwise."""
        self._refuse_extras()
        text = self._checked_input(model)
        voice = self._checked_voice(model)
        if self.response_format not in model.formats:
            raise BadRequest(
                f"response_format '{self.response_format[:32]}' is not one {model.id} makes; choose one of "
                f"{', '.join(model.formats)}.",
                code="unsupported_response_format",
            )
        if self.speed is not None:
            if not MIN_SPEED <= self.speed <= MAX_SPEED:
                raise BadRequest(f"speed must be between {MIN_SPEED} and {MAX_SPEED}.", code="invalid_speed")
            if not model.speed and self.speed != 1.0:
                raise BadRequest(f"{model.id} does not take `speed`.", code="speed_not_supported")
        if self.instructions:
            if not model.instructions:
                raise BadRequest(
                    f"{model.id} does not take `instructions`; gpt-4o-mini-tts does.",
                    code="instructions_not_supported",
                )
            if len(self.instructions) > MAX_INSTRUCTIONS_CHARS:
                raise BadRequest(
                    f"instructions are limited to {MAX_INSTRUCTIONS_CHARS} characters.",
                    code="instructions_too_long",
                )
        if self.stream_format not in (None, "audio"):
            raise BadRequest(
                "stream_format 'sse' is not supported: the audio is streamed as bytes (`audio`).",
                code="unsupported_parameter",
            )
        return SpeechRequest(
            input=text,
            voice=voice,
            response_format=self.response_format,
            speed=self.speed if model.speed else None,
            instructions=self.instructions or None,
        )

    def _refuse_extras(self) -> None:
        extra = sorted(self.model_extra or {})
        if extra:
            raise BadRequest(
                f"The parameter '{extra[0][:64]}' is not supported by /v1/audio/speech.",
                code="unsupported_parameter",
            )

    def _checked_input(self, model: SpeechModel) -> str:
        if not self.input.strip():
            raise BadRequest("input is empty: send the text to speak.", code="empty_input")
        if len(self.input) > model.max_input_chars:
            raise BadRequest(
                f"input is {len(self.input)} characters; {model.id} takes at most {model.max_input_chars}. "
                "Split the text and make several calls.",
                code="input_too_long",
            )
        return self.input

    def _checked_voice(self, model: SpeechModel) -> str:
        if not isinstance(self.voice, str):
            raise BadRequest(
                "Custom voice objects are not supported; name one of the model's voices.",
                code="unsupported_voice",
            )
        # Matched without regard to case, sent as the catalog spells it (Gemini's are capitalised).
        voice = next((v for v in model.voices if v.lower() == self.voice.lower()), None)
        if voice is None:
            raise BadRequest(
                f"voice '{self.voice[:64]}' is not one of {model.id}'s: {', '.join(model.voices)}.",
                code="unsupported_voice",
            )
        return voice
