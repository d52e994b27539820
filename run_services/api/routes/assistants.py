"""Assistants, in OpenAI's shape (the official SDK's `client.beta.assistants` works unchanged): create, list,
retrieve, modify (POST), delete. With `X-Workspace-ID` an assistant belongs to the workspace (its owners
and admins make and change it, its members use it) and the list is the workspace's. Chat completions and
thread messages name one with `assistant_id`."""

from __future__ import annotations

from fastapi import APIRouter

from run_services.api.deps import AssistantId, Paging, ServicesDep, Spender
from shared.assistants.schemas import (
    Assistant,
    AssistantCreate,
    AssistantDeleted,
    AssistantFields,
    AssistantList,
)

router = APIRouter(prefix="/v1/assistants", tags=["assistants"])


@router.post("")
async def create_assistant(body: AssistantCreate, principal: Spender, services: ServicesDep) -> Assistant:
    await services.rate_limits.check_request(principal)
    return await services.knowledge.assistants.create(principal, body)


@router.get("")
async def list_assistants(
    principal: Spender,
    services: ServicesDep,
    page: Paging,
) -> AssistantList:
    return await services.knowledge.assistants.list_for(principal, page.limit, page.order, page.after)


@router.get("/{assistant_id}")
async def get_assistant(assistant_id: AssistantId, principal: Spender, services: ServicesDep) -> Assistant:
    return await services.knowledge.assistants.get(principal, assistant_id)


@router.post("/{assistant_id}")
async def modify_assistant(
    assistant_id: AssistantId, body: AssistantFields, principal: Spender, services: ServicesDep
) -> Assistant:
    await services.rate_limits.check_request(principal)
    return await services.knowledge.assistants.update(principal, assistant_id, body)


@router.delete("/{assistant_id}")
async def delete_assistant(
    assistant_id: AssistantId, principal: Spender, services: ServicesDep
) -> AssistantDeleted:
    await services.rate_limits.check_request(principal)
    return await services.knowledge.assistants.delete(principal, assistant_id)
