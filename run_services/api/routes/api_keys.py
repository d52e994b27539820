"""API keys: create (the key is shown once), list, delete. Only a signed-in session (an access token)
manages them: with an API key they answer 403 session_required, so a leaked key cannot mint others."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from run_services.api.deps import ApiKeyId, CurrentPrincipal, ServicesDep
from shared.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList

router = APIRouter(prefix="/v1/api-keys", tags=["api-keys"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_api_key(
    principal: CurrentPrincipal, services: ServicesDep, body: ApiKeyCreate | None = None
) -> ApiKeyCreated:
    return await services.auth.create_api_key(principal, body.name if body else "")


@router.get("")
async def list_api_keys(principal: CurrentPrincipal, services: ServicesDep) -> ApiKeyList:
    return await services.auth.list_api_keys(principal)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_api_key(key_id: ApiKeyId, principal: CurrentPrincipal, services: ServicesDep) -> Response:
    await services.auth.delete_api_key(principal, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
