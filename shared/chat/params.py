"""Chat parameters beyond sampling: structured output, logprobs, logit_bias, stop and `n`, checked up front.

Passed through to the provider unchanged (shared/gateway/types.py PASSTHROUGH) once they check out:
- `response_format`: {"type": "text"}, {"type": "json_object"} (capability `response_format`) or
  {"type": "json_schema", "json_schema": {"name", "schema", "strict", "description"}} (capability
  `json_schema`); the schema must itself be valid JSON Schema (checked against its metaschema);
- `logprobs` / `top_logprobs` (0..20, only with `logprobs: true`; capability `logprobs`): the provider's
  logprobs come back in the choices, streamed or not;
- `logit_bias` (token id -> -100..100, at most 300), `stop` (at most 4), `seed`, `user`, the penalties.
`n` above 1 is refused: serving several choices would multiply the hold, the stream's indexes, the cache
and the usage record on every path, for a feature clients rarely use; send the request n times instead.
Errors are 400s naming the parameter; nothing is reserved before they are raised.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from shared.errors import BadRequest

FORMAT_TYPES = ("text", "json_object", "json_schema")
SCHEMA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_STOP = 4
MAX_LOGIT_BIAS = 300
MAX_SCHEMA_CHARS = 100_000


class ParamsRequest(Protocol):
    """The fields of ChatCompletionRequest this module reads."""

    n: int | None
    stop: str | list[str] | None
    response_format: dict[str, Any] | None
    logprobs: bool | None
    top_logprobs: int | None
    logit_bias: dict[str, int] | None


def check_params(body: ParamsRequest) -> frozenset[str]:
    """Check the parameters; return the capabilities they need of the model (shared/chat/capabilities.py)."""
    needs: set[str] = set()
    if body.n is not None and body.n > 1:
        raise _unsupported(
            "n", f"'n' is {body.n}; only one choice per request is served. Send the request {body.n} times."
        )
    if isinstance(body.stop, list) and len(body.stop) > MAX_STOP:
        raise _invalid("stop", f"'stop' has {len(body.stop)} sequences; at most {MAX_STOP} are allowed.")
    if body.response_format is not None:
        needs |= _response_format(body.response_format)
    if body.top_logprobs is not None and not body.logprobs:
        raise _invalid("top_logprobs", "'top_logprobs' needs 'logprobs': true.")
    if body.logprobs:
        needs.add("logprobs")
    if body.logit_bias is not None:
        _logit_bias(body.logit_bias)
    return frozenset(needs)


def _response_format(value: dict[str, Any]) -> set[str]:
    kind = value.get("type")
    if kind not in FORMAT_TYPES:
        raise _invalid("response_format", f"'response_format.type' must be one of {', '.join(FORMAT_TYPES)}.")
    extra = set(value) - {"type", "json_schema"}
    if extra or (kind != "json_schema" and "json_schema" in value):
        raise _invalid(
            "response_format", f"'response_format' has unexpected fields: {sorted(extra or {'json_schema'})}."
        )
    if kind == "text":
        return set()
    if kind == "json_object":
        return {"response_format"}
    spec = value.get("json_schema")
    if not isinstance(spec, dict):
        raise _invalid(
            "response_format", "'response_format.json_schema' must be an object with 'name' and 'schema'."
        )
    unknown = set(spec) - {"name", "description", "schema", "strict"}
    if unknown:
        raise _invalid(
            "response_format", f"'response_format.json_schema' has unexpected fields: {sorted(unknown)}."
        )
    name = spec.get("name")
    if not isinstance(name, str) or not SCHEMA_NAME.match(name):
        raise _invalid(
            "response_format",
            "'response_format.json_schema.name' must be 1-64 letters, digits, underscores or dashes.",
        )
    if "strict" in spec and not isinstance(spec["strict"], bool | None):
        raise _invalid("response_format", "'response_format.json_schema.strict' must be true or false.")
    if "description" in spec and not isinstance(spec["description"], str | None):
        raise _invalid("response_format", "'response_format.json_schema.description' must be a string.")
    schema = spec.get("schema")
    if schema is not None:
        check_json_schema(schema)
    return {"json_schema"}


def check_json_schema(schema: Any) -> None:
    """Refuse a schema that is not JSON Schema (checked against the metaschema it names, else 2020-12)."""
    if not isinstance(schema, dict):
        raise BadRequest(
            "'response_format.json_schema.schema' must be a JSON Schema object.", code="invalid_json_schema"
        )
    if len(str(schema)) > MAX_SCHEMA_CHARS:
        raise _invalid("response_format", f"The JSON schema is larger than {MAX_SCHEMA_CHARS} characters.")
    import jsonschema  # on the first request with a schema, not at start-up (shared/chat/tools.py too)
    from jsonschema.exceptions import SchemaError

    try:
        validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise BadRequest(
            f"'response_format.json_schema.schema' is not valid JSON Schema at {where}: {exc.message[:300]}",
            code="invalid_json_schema",
        ) from None


def _logit_bias(bias: dict[str, int]) -> None:
    if len(bias) > MAX_LOGIT_BIAS:
        raise _invalid(
            "logit_bias", f"'logit_bias' has {len(bias)} entries; at most {MAX_LOGIT_BIAS} are allowed."
        )
    for token, value in bias.items():
        if not token.isdigit() or not -100 <= value <= 100:
            raise _invalid("logit_bias", "'logit_bias' maps token ids (digits) to integers from -100 to 100.")


def _invalid(param: str, message: str) -> BadRequest:
    """A bad value of `param` (the message names it)."""
    return BadRequest(message, code="invalid_parameter")


def _unsupported(param: str, message: str) -> BadRequest:
    """A parameter we do not serve (the message names it)."""
    return BadRequest(message, code="unsupported_parameter")
