"""GET and PUT /v1/workspaces/{id}/guardrails: a workspace's guardrail policy
(shared/workspaces/guardrails.py).

Owners and admins only, both ways (the override may name what the workspace screens for, e.g. a project's
code names in its banned words); members get 403, non-members 404. Each request takes one request from
the caller's per-minute bucket (429 with Retry-After past it). PUT replaces the override with the body
(`{}` removes it); a body that does not validate against the workspace's plan is a 400 naming the field
(`invalid_guardrail_policy`) or the size (`guardrail_policy_too_large`), and nothing is changed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from run_services.api.deps import CurrentPrincipal, ServicesDep, WorkspaceId
from shared.workspaces.guardrails import GuardrailsView

router = APIRouter(prefix="/v1/workspaces", tags=["workspaces"])

_EXAMPLE = {
    "checks": {
        "pii": {"action": "mask", "kinds": ["email", "phone", "card"]},
        "banned": {"enabled": True, "action": "block", "words": ["project nightingale"]},
    },
    "restore_output": True,
}


@router.get("/{workspace_id}/guardrails")
async def get_guardrails(
    workspace_id: WorkspaceId, principal: CurrentPrincipal, services: ServicesDep, response: Response
) -> GuardrailsView:
    """The workspace's override and the effective policy its members' calls are screened with."""
    response.headers.update((await services.rate_limits.check_request(principal)).headers())
    return await services.workspaces.guardrails.view(principal.user_id, workspace_id)


@router.put("/{workspace_id}/guardrails")
async def put_guardrails(
    workspace_id: WorkspaceId,
    principal: CurrentPrincipal,
    services: ServicesDep,
    response: Response,
    override: Annotated[dict[str, Any], Body(openapi_examples={"mask and ban": {"value": _EXAMPLE}})],
) -> GuardrailsView:
    """Replace the workspace's override of its plan's guardrail policy (tables merge key by key onto the
    plan's, lists replace; the plan's limits may be tightened, not loosened)."""
    response.headers.update((await services.rate_limits.check_request(principal)).headers())
    return await services.workspaces.guardrails.replace(principal.user_id, workspace_id, override)
