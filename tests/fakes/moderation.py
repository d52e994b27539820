"""OpenAI's `/v1/moderations` for the fake provider: flags an input carrying `[[flagged]]` (category
violence); `[[flagged-late]]` flags it after LATE_S seconds (to land while a model is answering);
`[[moderation-down]]` answers 500. Records every input it was sent."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse

LATE_S = 0.6


@dataclass
class FakeModeration:
    inputs: list[str] = field(default_factory=list)

    async def handle(self, request: Request) -> JSONResponse:
        body = await request.json()
        raw = body.get("input")
        text = "\n".join(raw) if isinstance(raw, list) else str(raw)
        self.inputs.append(text)
        if "[[moderation-down]]" in text:
            return JSONResponse({"error": {"message": "scripted outage", "type": "server_error"}}, 500)
        if "[[flagged-late]]" in text:
            await asyncio.sleep(LATE_S)
        flagged = "[[flagged" in text
        categories = {"violence": flagged, "harassment": False, "self-harm": False}
        scores = {name: (0.97 if on else 0.01) for name, on in categories.items()}
        result = {"flagged": flagged, "categories": categories, "category_scores": scores}
        return JSONResponse({"id": "modr-fake", "model": body.get("model"), "results": [result]})
