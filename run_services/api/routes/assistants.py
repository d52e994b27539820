"""Assistants, in OpenAI's shape (the official SDK's `client.beta.assistants` works unchanged): create, list,
retrieve, modify (POST), delete. With `X-Workspace-ID` an assistant belongs to the workspace (its owners
and admins make and change it, its members use it) and the list is the workspace's. Chat completions and
thread messages name one with `assistant_id`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from run_services.api.deps import AssistantId, ServicesDep, Spender
from shared.assistants.schemas import (
    Assistant,
    AssistantCreate,
    AssistantDeleted,
    AssistantFields,
    AssistantList,
)
from shared.assistants.service import MAX_LIST, AssistantService
from shared.auth.schemas import Principal
from shared.bootstrap import Services
from shared.files.service import FileService

router = APIRouter(prefix="/v1/assistants", tags=["assistants"])


def service(services: Services) -> AssistantService:
    files = FileService(services.db, services.jobs.store, services.workspaces.service)

    async def readable_file(principal: Principal, file_id: str) -> object:
        return await files.get(principal, file_id)

    return AssistantService(
        services.db,
        services.workspaces.service,
        services.clients.catalog,
        services.offers,
        max_per_owner=services.settings.max_assistants,
        file_check=readable_file,
    )


@router.post("")
async def create_assistant(body: AssistantCreate, principal: Spender, services: ServicesDep) -> Assistant:
    await services.rate_limits.check_request(principal)
    return await service(services).create(principal, body)


@router.get("")
async def list_assistants(
    principal: Spender,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 20,
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> AssistantList:
    return await service(services).list_for(principal, limit, order, after)


@router.get("/{assistant_id}")
async def get_assistant(assistant_id: AssistantId, principal: Spender, services: ServicesDep) -> Assistant:
    return await service(services).get(principal, assistant_id)


@router.post("/{assistant_id}")
async def modify_assistant(
    assistant_id: AssistantId, body: AssistantFields, principal: Spender, services: ServicesDep
) -> Assistant:
    await services.rate_limits.check_request(principal)
    return await service(services).update(principal, assistant_id, body)


@router.delete("/{assistant_id}")
async def delete_assistant(
    assistant_id: AssistantId, principal: Spender, services: ServicesDep
) -> AssistantDeleted:
    await services.rate_limits.check_request(principal)
    return await service(services).delete(principal, assistant_id)
