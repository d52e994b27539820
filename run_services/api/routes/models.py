"""GET /v1/models and GET /v1/models/{id}: OpenAI's model objects (id, object, created, owned_by) plus
what the catalog knows of each: aliases, context window, output limit, prices and capabilities (tools,
images, response_format, ...), so a client can grey out what a model cannot do."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from run_services.api.deps import CurrentPrincipal, ServicesDep
from run_services.api.routes.embeddings import listed_embedding_models
from shared.catalog.catalog import CAPABILITIES, Catalog, ModelSpec, UnknownModel
from shared.gateway.auto import AUTO

router = APIRouter(tags=["models"])


def model_object(spec: ModelSpec, default: str | None) -> dict[str, Any]:
    return {
        "id": spec.id,
        "object": "model",
        "created": 0,
        "owned_by": spec.provider,
        "aliases": list(spec.aliases),
        "description": spec.description,
        "context_window": spec.context_window,
        "max_output_tokens": spec.max_output_tokens,
        "pricing": {
            "unit": "credits per million tokens",
            "input": spec.input_price,
            "output": spec.output_price,
        },
        "capabilities": {name: spec.supports(name) for name in sorted(CAPABILITIES)},
        "image_input_tokens": spec.image_input_tokens,
        "default": spec.id == default,
    }


def auto_object(catalog: Catalog) -> dict[str, Any] | None:
    """The `auto` model, when one of the models it routes to is enabled."""
    enabled = {m.id for m in catalog.available()}
    rule = catalog.auto
    if rule.get("cheap") not in enabled and rule.get("strong") not in enabled:
        return None
    return {
        "id": AUTO,
        "object": "model",
        "created": 0,
        "owned_by": "router",
        "description": f"Routes easy requests to {rule.get('cheap')} and hard ones to "
        f"{rule.get('strong')}; X-Route-Reason says why. Priced as the model that serves.",
        "routes_to": [rule.get("cheap"), rule.get("strong")],
        "default": False,
    }


def _default(catalog: Catalog) -> str | None:
    return catalog.resolve(None)[0].id if catalog.available() else None


@router.get("/v1/models")
async def list_models(_principal: CurrentPrincipal, services: ServicesDep) -> dict[str, Any]:
    catalog = services.catalog
    default = _default(catalog)
    data = [model_object(m, default) for m in catalog.available()]
    auto = auto_object(catalog)
    if auto is not None:
        data.append(auto)
    data += listed_embedding_models(services.embeddings.catalog)
    return {"object": "list", "data": data}


@router.get("/v1/models/{model_id:path}")
async def get_model(
    model_id: Annotated[str, Path(description="A model id or alias, or `auto`.")],
    _principal: CurrentPrincipal,
    services: ServicesDep,
) -> dict[str, Any]:
    """One model (an alias answers with its model); 404 `model_not_found` for an unknown or disabled one."""
    catalog = services.catalog
    if model_id.lower() == AUTO and (auto := auto_object(catalog)) is not None:
        return auto
    spec = catalog.find(model_id)
    if spec is None:
        raise UnknownModel(
            f"The model '{model_id}' does not exist or is not enabled; GET /v1/models lists them."
        )
    return model_object(spec, _default(catalog))
