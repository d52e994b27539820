"""Issue 12, items 2, 3 and 8 without a server: content parts and parameters are checked (400s with a code
naming what is wrong), the token estimate counts media without fetching, the cache keys see the parts,
and the chat route has its own body limit."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from run_services.api.middleware import RequestContextMiddleware
from shared.cache.keys import CacheDirectives, cache_key, decide_for
from shared.catalog.catalog import CAPABILITIES, DEFAULT_IMAGE_TOKENS, ModelSpec
from shared.chat.capabilities import ensure_supported as require
from shared.chat.chain import plan_chain
from shared.chat.content import ContentLimits, Media, inspect, sniff_image
from shared.chat.params import check_params
from shared.chat.schemas import ChatCompletionRequest
from shared.errors import BadRequest
from shared.gateway.calls import count_prompt
from shared.gateway.parts import AUDIO_TOKENS_PER_KB, has_media, split_media
from shared.gateway.types import Candidate

LIMITS = ContentLimits(max_images=2, max_image_bytes=1000, max_attachments=1, max_attachment_bytes=1000)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 40
GIF = b"GIF89a" + b"\x00" * 40
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 40
SPEC = ModelSpec("m", "p", "openai/gpt-4o-mini", 100_000, 200_000, 8192, 2048, capabilities=CAPABILITIES)
BASIC = ModelSpec("b", "p", "openai/gpt-4o-mini", 100_000, 200_000, 8192, 2048)


def data_url(raw: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(raw).decode()}"


def image(url: str, **extra: Any) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url, **extra}}


def request(*parts: dict[str, Any], **params: Any) -> ChatCompletionRequest:
    content: Any = list(parts) if parts else "hi"
    return ChatCompletionRequest.model_validate(
        {"messages": [{"role": "user", "content": content}], **params}
    )


def check(body: ChatCompletionRequest) -> None:
    """What the route checks before anything is reserved."""
    inspect(body.messages, LIMITS)
    check_params(body)


def refused(body: ChatCompletionRequest) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        check(body)
    return caught.value


@pytest.mark.parametrize(
    ("raw", "mime"), [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp")]
)
def test_every_accepted_image_format_passes(raw: bytes, mime: str) -> None:
    media = inspect(request(image(data_url(raw, mime))).messages, LIMITS)
    assert media == Media(images=1) and media.needs == {"images"}


def test_https_urls_and_text_parts_pass_and_are_sent_unchanged() -> None:
    parts = [{"type": "text", "text": "what is this?"}, image("https://example.com/a.png", detail="low")]
    body = request(*parts)
    assert inspect(body.messages, LIMITS) == Media(images=1)
    assert body.wire_messages()[0]["content"] == parts
    assert body.messages[0].as_text() == "what is this?"


@pytest.mark.parametrize(
    ("part", "code"),
    [
        (image(data_url(b"just some text, not an image")), "invalid_image"),
        (image(data_url(PNG, "image/jpeg")), "invalid_image"),
        (image(data_url(PNG, "application/pdf")), "invalid_image"),
        (image("data:image/png;base64,@@@@"), "invalid_base64"),
        (image("data:image/png;base64,iVBORw0KGgo"), "invalid_base64"),
        (image("data:image/png,rawbytes"), "invalid_data_url"),
        (image(data_url(PNG + b"\x00" * 2000)), "image_too_large"),
        (image("http://example.com/a.png"), "invalid_image_url"),
        (image("file:///etc/passwd"), "invalid_image_url"),
        (image("https://example.com/a.png", detail="ultra"), "invalid_image"),
        ({"type": "image_url", "image_url": "https://example.com/a.png"}, "invalid_image"),
        ({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "ogg"}}, "invalid_audio"),
        ({"type": "input_audio", "input_audio": {"data": "not base64!", "format": "wav"}}, "invalid_base64"),
        ({"type": "file", "file": {"file_id": "https://example.com/x.pdf"}}, "invalid_file"),
        ({"type": "file", "file": {"file_data": "AAAA"}}, "invalid_data_url"),
        ({"type": "file", "file": {}}, "invalid_file"),
        ({"type": "refusal", "refusal": "no"}, "unsupported_content"),
    ],
)
def test_bad_parts_are_refused_with_a_code(part: dict[str, Any], code: str) -> None:
    error = refused(request(part))
    assert error.status == 400 and error.code == code, error.message
    assert "messages[0].content[0]" in error.message


def test_counts_per_request_are_bounded() -> None:
    png = image(data_url(PNG))
    assert refused(request(png, png, png)).code == "too_many_images"
    audio = {
        "type": "input_audio",
        "input_audio": {"data": base64.b64encode(b"ID3abc").decode(), "format": "mp3"},
    }
    assert refused(request(audio, audio)).code == "too_many_attachments"


def test_only_user_messages_carry_media() -> None:
    body = ChatCompletionRequest.model_validate(
        {
            "messages": [
                {"role": "system", "content": [image(data_url(PNG))]},
                {"role": "user", "content": "hi"},
            ]
        }
    )
    assert refused(body).code == "invalid_content"


def test_sniffing_needs_the_magic_bytes() -> None:
    assert sniff_image(PNG) == "png" and sniff_image(WEBP) == "webp"
    assert sniff_image(b"RIFF\x00\x00\x00\x00WAVE") is None and sniff_image(b"") is None


def test_a_model_without_the_capability_is_refused_with_its_code() -> None:
    for needs, code in [
        ({"images"}, "images_not_supported"),
        ({"audio_in"}, "audio_not_supported"),
        ({"files"}, "files_not_supported"),
        ({"response_format"}, "response_format_not_supported"),
        ({"json_schema"}, "response_format_not_supported"),
        ({"logprobs"}, "logprobs_not_supported"),
    ]:
        with pytest.raises(BadRequest) as caught:
            require(BASIC, needs)
        assert caught.value.code == code
        require(SPEC, needs)


@pytest.mark.parametrize(
    ("params", "needs"),
    [
        ({"response_format": {"type": "text"}}, set()),
        ({"response_format": {"type": "json_object"}}, {"response_format"}),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": "city",
                        "strict": True,
                        "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
                    },
                }
            },
            {"json_schema"},
        ),
        ({"logprobs": True, "top_logprobs": 3}, {"logprobs"}),
        ({"seed": 7, "stop": ["a", "b"], "logit_bias": {"50256": -100}, "user": "u1", "n": 1}, set()),
    ],
)
def test_parameters_that_pass_name_what_they_need(params: dict[str, Any], needs: set[str]) -> None:
    body = request(**params)
    assert check_params(body) == needs
    sent = body.sampling()
    for name, value in params.items():
        if name != "n":
            assert sent[name] == value


@pytest.mark.parametrize(
    ("params", "code", "named"),
    [
        ({"n": 2}, "unsupported_parameter", "'n'"),
        ({"top_logprobs": 2}, "invalid_parameter", "top_logprobs"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "invalid_parameter", "stop"),
        ({"logit_bias": {"abc": 5}}, "invalid_parameter", "logit_bias"),
        ({"logit_bias": {"12": 500}}, "invalid_parameter", "logit_bias"),
        ({"response_format": {"type": "xml"}}, "invalid_parameter", "response_format"),
        ({"response_format": {"type": "json_schema"}}, "invalid_parameter", "response_format"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "bad name!", "schema": {}}}},
            "invalid_parameter",
            "name",
        ),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "a", "schema": {"type": "nope"}},
                }
            },
            "invalid_json_schema",
            "JSON Schema",
        ),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "a", "schema": {"properties": 5}},
                }
            },
            "invalid_json_schema",
            "properties",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": []}}},
            "invalid_json_schema",
            "object",
        ),
    ],
)
def test_bad_parameters_are_400s_naming_them(params: dict[str, Any], code: str, named: str) -> None:
    error = refused(request(**params))
    assert (error.status, error.code) == (400, code)
    assert named in error.message


def test_refused_parameters_still_name_themselves() -> None:
    for name in ("audio", "modalities", "prediction"):
        with pytest.raises(BadRequest) as caught:
            request(**{name: {"x": 1}}).check_supported()
        assert caught.value.code == "unsupported_parameter" and f"'{name}'" in caught.value.message


def test_the_prompt_estimate_counts_media_without_fetching() -> None:
    text = [{"role": "user", "content": "describe this"}]
    with_image = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "describe this"}, image("https://127.0.0.1:1/x.png")],
        }
    ]
    base = count_prompt(SPEC, text)
    assert count_prompt(SPEC, with_image) - base in range(DEFAULT_IMAGE_TOKENS - 2, DEFAULT_IMAGE_TOKENS + 3)
    audio = base64.b64encode(b"\x00" * 10 * 1024).decode()
    stripped, extra = split_media(
        SPEC,
        [
            {
                "role": "user",
                "content": [{"type": "input_audio", "input_audio": {"data": audio, "format": "wav"}}],
            }
        ],
    )
    assert extra == 10 * AUDIO_TOKENS_PER_KB and stripped[0]["content"] == ""
    assert has_media(with_image) and not has_media(text)


def test_the_exact_key_hashes_the_parts_and_the_semantic_layer_skips_them() -> None:
    one = [{"role": "user", "content": [{"type": "text", "text": "what?"}, image(data_url(PNG))]}]
    two = [
        {"role": "user", "content": [{"type": "text", "text": "what?"}, image(data_url(JPEG, "image/jpeg"))]}
    ]
    a, b = cache_key("t", "m", one, {}, 10), cache_key("t", "m", two, {}, 10)
    assert a.digest != b.digest
    assert a.prompt is None and b.prompt is None  # no semantic lookup or store
    later = [*one, {"role": "assistant", "content": "a png"}, {"role": "user", "content": "and now?"}]
    assert cache_key("t", "m", later, {}, 10).prompt is None
    assert cache_key("t", "m", [{"role": "user", "content": "and now?"}], {}, 10).prompt == "and now?"


def test_logprobs_bypass_the_cache() -> None:
    decision = decide_for({"temperature": 0, "logprobs": True}, False, CacheDirectives())
    assert (decision.read, decision.write, decision.reason) == (False, False, "logprobs")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _run(path: str, size: int) -> int:
    sent: list[Message] = []
    reads = 0

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": reads * 1000 < size}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": path, "headers": []}
    middleware = RequestContextMiddleware(
        app, project="p", max_body=2000, route_limits={"/v1/chat/completions": 5000}
    )
    await middleware(scope, receive, send)
    if sent[0]["status"] == 413:
        assert "5000" in json.loads(sent[1]["body"])["error"]["message"] or path != "/v1/chat/completions"
    return int(sent[0]["status"])


@pytest.mark.anyio
async def test_the_chat_route_has_its_own_body_limit() -> None:
    assert await _run("/v1/chat/completions", 4000) == 200
    assert await _run("/v1/chat/completions", 9000) == 413
    assert await _run("/v1/auth/login", 4000) == 413


def _service_over(*specs: ModelSpec, auto: dict[str, Any] | None = None) -> Any:
    """A ChatService over a catalog of `specs` (the first falls back to the others), without I/O."""
    from shared.catalog.catalog import Catalog, Provider
    from shared.chat.service import ChatService
    from shared.gateway.gateway import Gateway

    fallbacks = tuple(s.id for s in specs[1:])
    first = ModelSpec(**{**specs[0].__dict__, "fallbacks": fallbacks})
    models = {s.id: s for s in (first, *specs[1:])}
    catalog = Catalog({"p": Provider("p", None, "k", True)}, models, None, auto=auto or {})
    service = ChatService.__new__(ChatService)
    service.catalog, service.gateway = catalog, Gateway(catalog, router=None)  # type: ignore[arg-type]
    return service


def test_fallbacks_and_auto_only_use_models_that_take_the_request() -> None:
    main = ModelSpec("main", "p", "openai/gpt-4o-mini", 1, 1, 8192, 2048, capabilities=CAPABILITIES)
    text_only = ModelSpec("text-only", "p", "openai/gpt-4o-mini", 1, 1, 8192, 2048)
    seeing = ModelSpec(
        "seeing", "p", "openai/gpt-4o-mini", 1, 1, 8192, 2048, capabilities=frozenset({"images"})
    )
    service = _service_over(main, text_only, seeing, auto={"cheap": "text-only", "strong": "seeing"})
    options = service.gateway.options(service.catalog.models["main"])
    counts = {s.id: 10 for s in options}

    def chain(needs: frozenset[str]) -> list[str]:
        plan = plan_chain(Candidate(options[0], 100, 10), options[1:], counts, lambda _m: True, needs)
        return [c.spec.id for c in plan.fallbacks]

    assert chain(frozenset({"images"})) == ["seeing"]
    assert chain(frozenset()) == ["text-only", "seeing"]
    messages = [{"role": "user", "content": [{"type": "text", "text": "hi"}, image("https://x.test/a.png")]}]

    class Everything:
        def allows(self, model: str) -> bool:
            return True

    offer = Everything()
    spec, _, reason = service._model("auto", messages, offer, frozenset({"images"}))
    assert (
        spec.id == "seeing" and "text-only is not available" in reason
    )  # the easy prompt's cheap model can't see
    spec, _, reason = service._model("auto", messages, offer, frozenset())
    assert (spec.id, reason) == ("text-only", "cheap: easy")
