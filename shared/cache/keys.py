"""Cache keys and the rules for when a request may use the cache.

The key is the sha256 of a canonical JSON form of the request: the model id after alias resolution,
the messages with their exact content, and the sampling parameters with defaults made explicit, so
requests that mean the same thing (absent vs null, `stop: "x"` vs `["x"]`, 0 vs 0.0) share one key.
The tenant (`cache_tenant`: the wallet, or the member within a workspace wallet) is both in the hash and
in the Redis key `rc:<tenant>:<model>:<sha256>`, so no lookup can ever reach another tenant's entries.
Members of a workspace each have their own tenant unless the workspace shares its cache.

Who may use the cache (`decide_for`, given the parsed `CacheDirectives`):
- deterministic requests only: `temperature` 0; any other temperature (absent means the provider
  default, 1) needs the client's explicit opt-in, the request header `X-Cache: on`;
- never with tools or function calling, with more than one choice (`n` > 1), or with `logprobs` (a
  stored answer keeps only its text);
- the semantic layer never for a request with images, audio or files: its similarity is of text only
  (the exact key hashes every part, data URLs included);
- `Cache-Control: no-cache` (or `max-age=0`) skips the lookup but still stores the fresh answer;
  `Cache-Control: no-store` neither reads nor writes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

FORMAT_VERSION = 1

# Sampling parameters and the values a provider uses when they are absent (OpenAI's defaults).
DEFAULTS: dict[str, Any] = {
    "temperature": 1.0,
    "top_p": 1.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "stop": [],
    "seed": None,
}
_FLOATS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
# Parameters that do not change the answer: who asked, and how it is delivered.
IGNORED = frozenset({"user", "metadata", "stream", "stream_options", "model", "messages", "max_tokens"})
_TOOLS = ("tools", "tool_choice", "functions", "function_call")


@dataclass(frozen=True)
class CacheKey:
    """Where a request's answer lives. `scope` and `prompt` serve the semantic cache: `scope` hashes
    everything but the last user message (model, system prompt, earlier turns, parameters), `prompt`
    is that last user message (None when the request does not end with one)."""

    tenant: str
    model: str
    digest: str
    scope: str
    prompt: str | None

    @property
    def redis_key(self) -> str:
        return f"rc:{key_part(self.tenant)}:{key_part(self.model)}:{self.digest}"

    def __str__(self) -> str:
        return self.redis_key


def cache_tenant(wallet_id: str, user_id: str, workspace_id: str | None, shared: bool) -> str:
    """Whose cached answers a request reads and writes. A personal wallet is its own tenant; so is a
    workspace wallet whose workspace shares its cache (`share_response_cache`). Otherwise each member of a
    workspace is a tenant of their own inside its wallet (`ws-{id}/{user_id}`): members never read each
    other's answers."""
    if not wallet_id or not user_id:
        raise ValueError("a cache tenant needs a wallet and a user")
    if workspace_id is None or shared:
        return wallet_id
    return f"{wallet_id}/{user_id}"


def key_part(value: str) -> str:
    """A tenant or model id made safe as one `:`-separated segment of a Redis key."""
    return quote(value, safe="")


def canonical_json(value: Any) -> str:
    return json.dumps(_clean(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def canonical_params(params: Mapping[str, Any], max_tokens: int | None) -> dict[str, Any]:
    """Sampling parameters with every default explicit and equivalent spellings made equal."""
    out: dict[str, Any] = dict(DEFAULTS)
    for name, value in params.items():
        if name in IGNORED or value is None:
            continue
        out[name] = value
    for name in _FLOATS:
        out[name] = float(out[name])
    stop = out["stop"]
    out["stop"] = sorted({stop} if isinstance(stop, str) else set(stop))
    out["max_tokens"] = max_tokens
    return out


def canonical_request(
    model: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any], max_tokens: int | None
) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [dict(m) for m in messages],
        "params": canonical_params(params, max_tokens),
    }


def cache_key(
    tenant: str,
    model: str,
    messages: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    max_tokens: int | None,
) -> CacheKey:
    """The key of a request. `model` is the resolved catalog id (after aliases); `max_tokens` is the
    output limit the request resolves to before any credit limit (ChatService.begin's `wanted`)."""
    if not tenant:
        raise ValueError("a cache key needs a tenant")
    request = canonical_request(model, messages, params, max_tokens)
    digest = sha256(canonical_json({"v": FORMAT_VERSION, "tenant": tenant, **request}))
    last = messages[-1] if messages else None
    prompt = None
    media = any(isinstance(m.get("content"), list) and _has_media(m["content"]) for m in messages)
    if not media and last is not None and last.get("role") == "user" and isinstance(last.get("content"), str):
        prompt = str(last["content"])
    context = {**request, "messages": request["messages"][:-1] if prompt is not None else request["messages"]}
    scope = sha256(canonical_json({"v": FORMAT_VERSION, "tenant": tenant, **context}))
    return CacheKey(tenant, model, digest, scope, prompt)


@dataclass(frozen=True)
class CacheDecision:
    """Whether a request may read a cached answer and whether its own answer may be stored."""

    read: bool
    write: bool
    reason: str

    @property
    def status(self) -> str:
        """The `X-Cache` response header when there was no hit: `miss` if looked up, else `bypass`."""
        return "miss" if self.read else "bypass"


@dataclass(frozen=True)
class CacheDirectives:
    """What the client's `Cache-Control` asks of the cache: `no_store` neither reads nor writes,
    `no_cache` (or `max-age=0`) skips the lookup but stores the fresh answer."""

    no_store: bool = False
    no_cache: bool = False

    @classmethod
    def parse(cls, cache_control: str | None) -> CacheDirectives:
        directives = cache_directives(cache_control)
        no_cache = "no-cache" in directives or directives.get("max-age") == "0"
        return cls(no_store="no-store" in directives, no_cache=no_cache)


NO_DIRECTIVES = CacheDirectives()


def cache_directives(cache_control: str | None) -> dict[str, str]:
    """`Cache-Control: no-cache, max-age=0` -> {"no-cache": "", "max-age": "0"} (names lower-cased)."""
    out: dict[str, str] = {}
    for part in (cache_control or "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            out[name.strip().lower()] = value.strip().strip('"')
    return out


def opted_in(header: str | None) -> bool:
    """The client's opt-in, from the request header `X-Cache` (`on`, `true`, `1` or `yes`)."""
    return (header or "").strip().lower() in {"on", "true", "1", "yes"}


def decide(params: Mapping[str, Any], opt_in: bool, cache_control: str | None) -> CacheDecision:
    """`decide_for` on a raw `Cache-Control` header."""
    return decide_for(params, opt_in, CacheDirectives.parse(cache_control))


def decide_for(params: Mapping[str, Any], opt_in: bool, directives: CacheDirectives) -> CacheDecision:
    if any(params.get(name) for name in _TOOLS):
        return CacheDecision(False, False, "tools")
    if int(params.get("n") or 1) > 1:
        return CacheDecision(False, False, "multiple_choices")
    if params.get("logprobs"):
        return CacheDecision(False, False, "logprobs")
    temperature = params.get("temperature")
    deterministic = temperature is not None and float(temperature) == 0.0
    if not deterministic and not opt_in:
        return CacheDecision(False, False, "not_deterministic")
    if directives.no_store:
        return CacheDecision(False, False, "no-store")
    if directives.no_cache:
        return CacheDecision(False, True, "no-cache")
    return CacheDecision(True, True, "deterministic" if deterministic else "opt_in")


def cacheable(params: Mapping[str, Any], opt_in: bool, cache_control: str | None) -> bool:
    """May this request be answered from the cache? (Whether it may be stored: `decide(...).write`.)"""
    return decide(params, opt_in, cache_control).read


def storable(outcome: str, finish_reason: str | None, text: str, limited_by_credits: bool) -> bool:
    """May a finished call's answer be stored? Only a complete, successful answer: never after an
    error, a partial or cancelled stream, a content filter, or an answer cut short because the
    wallet could not pay for the requested max_tokens (the key promises the client's own limit)."""
    if outcome != "ok" or not text:
        return False
    if finish_reason in ("content_filter", "error", "tool_calls", "function_call"):
        return False
    return not (finish_reason == "length" and limited_by_credits)


def _has_media(parts: Sequence[Any]) -> bool:
    """Whether content parts hold anything but text (an image, audio, a file)."""
    return any(not isinstance(p, Mapping) or p.get("type") != "text" for p in parts)


def _clean(value: Any) -> Any:
    """Drop None values from mappings (absent and null mean the same), recursively."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
