"""What a request needs of its model, checked against the catalog's `capabilities` before anything is
reserved: the requested model must have them all (else a 400 naming what it lacks), and a fallback or an
`auto` choice that lacks one is never used for the request."""

from __future__ import annotations

from collections.abc import Iterable

from shared.catalog.catalog import ModelSpec
from shared.errors import BadRequest

# capability -> (error code, what the message calls it)
REFUSAL = {
    "images": ("images_not_supported", "images"),
    "audio_in": ("audio_not_supported", "audio input"),
    "files": ("files_not_supported", "file inputs"),
    "response_format": ("response_format_not_supported", "response_format json_object"),
    "json_schema": ("response_format_not_supported", "response_format json_schema"),
    "logprobs": ("logprobs_not_supported", "logprobs / top_logprobs"),
}


def supports_all(spec: ModelSpec, needs: Iterable[str]) -> bool:
    return all(spec.supports(name) for name in needs)


def require(spec: ModelSpec, needs: Iterable[str]) -> None:
    """Refuse (400) a model that lacks one of the capabilities the request needs."""
    for name in sorted(needs):
        if spec.supports(name):
            continue
        code, what = REFUSAL.get(name, (f"{name}_not_supported", name))
        raise BadRequest(
            f"The model '{spec.id}' does not accept {what}; GET /v1/models/{spec.id} lists its capabilities. "
            "Choose a model that does, or leave it out.",
            code=code,
        )
