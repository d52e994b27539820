"""Prompt templates: `/v1/templates` lists the built-in library (English, Spanish, Bengali) with your own and,
with `X-Workspace-ID` (or `workspace_id`), the workspace's; create, read, update (a new version, the old
ones kept), list versions, delete, and `POST /v1/templates/{id}/render` with the variables' values."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from run_services.api.deps import CurrentPrincipal, ServicesDep, TemplateId
from shared.templates.schemas import Category, Rendered, RenderIn, Template, TemplateIn, TemplateList

router = APIRouter(prefix="/v1/templates", tags=["templates"])


def _workspace(header: str | None, query: str | None) -> str | None:
    return query or header or None


@router.get("")
async def list_templates(
    principal: CurrentPrincipal,
    services: ServicesDep,
    language: Annotated[str | None, Query(max_length=10)] = None,
    category: Annotated[Category | None, Query()] = None,
    workspace_id: Annotated[str | None, Query(max_length=64)] = None,
    x_workspace_id: Annotated[str | None, Header(alias="X-Workspace-ID", max_length=64)] = None,
) -> TemplateList:
    """The built-ins, yours and (with a workspace) the workspace's; filter by `language` and `category`."""
    found = await services.knowledge.templates.list_for(
        principal, _workspace(x_workspace_id, workspace_id), language, category
    )
    return TemplateList(data=found)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_template(
    body: TemplateIn,
    principal: CurrentPrincipal,
    services: ServicesDep,
    workspace_id: Annotated[str | None, Query(max_length=64)] = None,
    x_workspace_id: Annotated[str | None, Header(alias="X-Workspace-ID", max_length=64)] = None,
) -> Template:
    """Yours, or the workspace's with a workspace id (its owners and admins)."""
    await services.rate_limits.check_request(principal)
    return await services.knowledge.templates.create(
        principal, body, _workspace(x_workspace_id, workspace_id)
    )


@router.get("/{template_id}")
async def get_template(
    template_id: TemplateId, principal: CurrentPrincipal, services: ServicesDep
) -> Template:
    return await services.knowledge.templates.get(principal, template_id)


@router.patch("/{template_id}")
async def update_template(
    template_id: TemplateId, body: TemplateIn, principal: CurrentPrincipal, services: ServicesDep
) -> Template:
    """A new version: send the whole template. The one it replaces stays in /versions."""
    await services.rate_limits.check_request(principal)
    return await services.knowledge.templates.update(principal, template_id, body)


@router.get("/{template_id}/versions")
async def template_versions(
    template_id: TemplateId, principal: CurrentPrincipal, services: ServicesDep
) -> TemplateList:
    """Every version, newest first."""
    return TemplateList(data=await services.knowledge.templates.versions(principal, template_id))


@router.delete("/{template_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_template(
    template_id: TemplateId, principal: CurrentPrincipal, services: ServicesDep
) -> Response:
    await services.rate_limits.check_request(principal)
    await services.knowledge.templates.delete(principal, template_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{template_id}/render")
async def render_template(
    template_id: TemplateId, body: RenderIn, principal: CurrentPrincipal, services: ServicesDep
) -> Rendered:
    """The body with the variables filled in; a missing or unknown variable is a 400 naming it."""
    await services.rate_limits.check_request(principal)
    return await services.knowledge.templates.render(principal, template_id, body.variables)
