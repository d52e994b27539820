"""A scripted OpenAI-compatible `/v1/embeddings`, served by the fake provider's app (tests/fakes/provider.py).

The model name picks the script:
  fake-embed         16 dimensions (fewer with `dimensions`); usage reported as the words of every
                     input plus one per input (so it differs from our estimate, and settles the charge)
  fake-embed-fixed   8 dimensions, `dimensions` not adjustable in its catalog entry
  fake-embed-silent  like fake-embed, but reports no usage (the charge falls back on our count)
  fake-embed-500     answers 500
Vectors are unit length and derived from the text, so the same text always gets the same vector.
`encoding_format: base64` is answered as OpenAI does (little-endian float32, base64).
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

PRICE = 1_300_000  # 1.3 credits a token: the rounding up shows
DIMENSIONS = {"fake-embed": 16, "fake-embed-fixed": 8, "fake-embed-silent": 16, "fake-embed-500": 16}
MAX_INPUT_TOKENS = 50
MAX_INPUTS = 8


def fake_vector(text: str, dimensions: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest() * 2
    raw = [(byte - 127.5) / 127.5 for byte in digest[:dimensions]]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def reported_tokens(texts: list[str]) -> int:
    return sum(len(text.split()) + 1 for text in texts)


@dataclass
class FakeEmbeddings:
    calls: list[dict[str, Any]] = field(default_factory=list)

    def calls_for(self, model: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c.get("model") == model]

    def catalog_lines(self, local: bool) -> list[str]:
        lines: list[str] = []
        for name, dims in DIMENSIONS.items():
            lines += [
                "",
                "[[embeddings]]",
                f'id = "{name}"',
                'provider = "fake"',
                f'litellm_model = "openai/{name}"',
                f"price = {PRICE}",
                f"max_input_tokens = {MAX_INPUT_TOKENS}",
                f"max_inputs = {MAX_INPUTS}",
                f"dimensions = {dims}",
                f"dimensions_adjustable = {'false' if name == 'fake-embed-fixed' else 'true'}",
                "timeout_s = 20",
            ]
        if local:
            lines += [
                "",
                "[providers.local_embedding]",
                'api_base_env = "LOCAL_EMBEDDING_URL"',
                "",
                "[[embeddings]]",
                'id = "all-minilm-l6-v2"',
                'provider = "local_embedding"',
                'litellm_model = "openai/all-minilm-l6-v2"',
                "price = 1000",
                "max_input_tokens = 256",
                "max_inputs = 32",
                "dimensions = 384",
            ]
        return lines

    async def handle(self, request: Request) -> Response:
        body = await request.json()
        model = str(body.get("model", "")).removeprefix("openai/")
        self.calls.append({**body, "model": model})
        if model == "fake-embed-500":
            return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, status_code=500)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dims = int(body.get("dimensions") or DIMENSIONS.get(model, 16))
        base64_out = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(texts):
            vector = fake_vector(str(text), dims)
            encoded: Any = vector
            if base64_out:
                encoded = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        data.reverse()  # the order of `data` is not the order of the inputs: `index` is
        answer: dict[str, Any] = {"object": "list", "data": data, "model": model}
        if model != "fake-embed-silent":
            tokens = reported_tokens([str(t) for t in texts])
            answer["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        return JSONResponse(answer)
