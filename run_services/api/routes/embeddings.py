"""POST /v1/embeddings, OpenAI-compatible, metered per input token like chat."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from run_services.api.deps import RateLimitDep, ServicesDep, Spender, request_id
from shared.catalog.embeddings import EmbeddingCatalog
from shared.embeddings.schemas import EmbeddingRequest, EmbeddingResponse

router = APIRouter(tags=["embeddings"])


@router.post(
    "/v1/embeddings",
    response_model=None,
    responses={200: {"model": EmbeddingResponse, "description": "One vector per input, in order."}},
)
async def create_embeddings(
    body: EmbeddingRequest,
    request: Request,
    principal: Spender,
    services: ServicesDep,
    limits: RateLimitDep,
) -> JSONResponse:
    """Vectors of the inputs. `usage.credits` is what the call was charged (1 credit = 1 micro-USD) and
    `usage.cost` the same in USD. Too many inputs, an input over the model's token limit, empty input or
    token-id input: 400 and nothing is charged."""
    result = await services.embeddings.create(principal, request_id(request), body)
    # Serialized once here: a response model would validate every float of the vectors again.
    response = JSONResponse(result.model_dump(mode="json"))
    response.headers.update(limits.headers())
    response.headers["X-Model"] = result.model
    return response


def listed_embedding_models(catalog: EmbeddingCatalog) -> list[dict[str, Any]]:
    """GET /v1/models' entries for the enabled embedding models (`mode: embedding`, as LiteLLM says)."""
    return [
        {
            "id": m.id,
            "object": "model",
            "created": 0,
            "owned_by": m.provider,
            "mode": "embedding",
            "description": m.description,
            "dimensions": m.dimensions,
            "dimensions_adjustable": m.dimensions_adjustable,
            "max_input_tokens": m.max_input_tokens,
            "max_inputs": m.max_inputs,
            "pricing": {"unit": "credits per million tokens", "input": m.price},
            "default": m.id == catalog.default_model,
        }
        for m in catalog.available()
    ]
