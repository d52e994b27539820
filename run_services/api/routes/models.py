from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from run_services.api.deps import CurrentPrincipal, ServicesDep

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
    return {"object": "list", "data": data}
