from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from run_services.api.deps import CurrentPrincipal, ServicesDep
from run_services.api.routes.embeddings import listed_embedding_models
from shared.gateway.auto import AUTO

router = APIRouter(tags=["models"])


@router.get("/v1/models")
async def list_models(_principal: CurrentPrincipal, services: ServicesDep) -> dict[str, Any]:
    catalog = services.catalog
    default = None
    if catalog.available():
        default = catalog.resolve(None)[0].id
    data = [
        {
            "id": m.id,
            "object": "model",
            "created": 0,
            "owned_by": m.provider,
            "aliases": list(m.aliases),
            "description": m.description,
            "context_window": m.context_window,
            "max_output_tokens": m.max_output_tokens,
            "pricing": {
                "unit": "credits per million tokens",
                "input": m.input_price,
                "output": m.output_price,
            },
            "default": m.id == default,
        }
        for m in catalog.available()
    ]
    enabled = {m.id for m in catalog.available()}
    rule = catalog.auto
    if rule.get("cheap") in enabled or rule.get("strong") in enabled:
        data.append(
            {
                "id": AUTO,
                "object": "model",
                "created": 0,
                "owned_by": "router",
                "description": f"Routes easy requests to {rule.get('cheap')} and hard ones to "
                f"{rule.get('strong')}; X-Route-Reason says why. Priced as the model that serves.",
                "routes_to": [rule.get("cheap"), rule.get("strong")],
                "default": False,
            }
        )
    data += listed_embedding_models(services.embeddings.catalog)
    return {"object": "list", "data": data}
