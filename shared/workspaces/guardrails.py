"""A workspace's guardrail policy: its plan's policy (shared/guardrails/policies.toml) with the workspace's
override on top (shared/guardrails/policy.py `merge`).

The override is stored in the workspace document (`workspaces/{id}.guardrails`, with who changed it and
when) and read for every model call made with `X-Workspace-ID`, so an admin's change applies to the next
call. Owners and admins read and replace it (`GET`/`PUT /v1/workspaces/{id}/guardrails`); members get
403, non-members 404. A replacement is validated against the workspace's plan before anything is
written: an unknown check or key, a wrong action, a regex that does not compile or could backtrack, a
list over its maximum or a loosened plan limit is a 400 `invalid_guardrail_policy` naming the field, and
the stored override stays as it was.

Merged policies are memoized by (plan, override), so a call pays one dictionary lookup, not a validation.
If a stored override no longer fits the plan (the workspace moved to a plan with tighter limits), calls
use the plan's policy and a warning names the field.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from google.cloud import firestore
from pydantic import BaseModel

from shared.audit import trail as audit
from shared.clock import now
from shared.errors import BadRequest
from shared.guardrails.errors import PolicyError
from shared.guardrails.policy import PlanPolicies, Policy, merge
from shared.workspaces.errors import RoleRequired, WorkspaceNotFound
from shared.workspaces.schemas import at_least
from shared.workspaces.service import WorkspaceService

log = logging.getLogger("workspaces.guardrails")

FIELD = "guardrails"
MAX_OVERRIDE_BYTES = 64 * 1024  # the override as JSON; the banned lists' own maxima apply inside it


class GuardrailsView(BaseModel):
    object: str = "workspace.guardrails"
    workspace_id: str
    plan: str
    override: dict[str, Any]  # what the workspace set on top of its plan's policy ({} for none)
    effective: dict[str, Any]  # the policy its calls are screened with
    updated_by: str | None = None


def canonical(override: Mapping[str, Any]) -> str:
    return json.dumps(override, sort_keys=True, separators=(",", ":"))


class WorkspaceGuardrails:
    def __init__(self, workspaces: WorkspaceService, plans: PlanPolicies) -> None:
        self._workspaces = workspaces
        self._plans = plans
        self._merged = lru_cache(maxsize=256)(self._merge)

    def _merge(self, plan: str, override_json: str) -> Policy:
        return merge(self._plans.for_plan(plan), json.loads(override_json))

    def plan_policy(self, plan: str | None) -> Policy:
        return self._plans.for_plan(plan)

    async def policy(self, plan: str | None, workspace_id: str | None) -> Policy:
        """The policy a call is screened with: the plan's, with the workspace's override when it has one."""
        base = self._plans.for_plan(plan)
        if workspace_id is None:
            return base
        repo = self._workspaces.repo
        doc = await repo.get(repo.workspace_ref(workspace_id))
        override = (doc or {}).get(FIELD) or {}
        if not override:
            return base
        try:
            return self._merged(plan or "", canonical(override))
        except PolicyError as exc:
            log.warning(
                "workspace guardrail override does not fit the plan: using the plan's policy",
                extra={"workspace_id": workspace_id, "plan": plan, "field": exc.field},
            )
            return base

    async def view(self, user_id: str, workspace_id: str) -> GuardrailsView:
        """The workspace's override and effective policy (owners and admins)."""
        await self._workspaces.membership(user_id, workspace_id, "admin")
        doc, plan = await self._plan_of(workspace_id)
        override = doc.get(FIELD) or {}
        try:
            effective = self._merged(plan, canonical(override)) if override else self.plan_policy(plan)
        except PolicyError:
            effective = self.plan_policy(plan)
        return GuardrailsView(
            workspace_id=workspace_id,
            plan=plan,
            override=override,
            effective=effective.model_dump(mode="json"),
            updated_by=doc.get(f"{FIELD}_updated_by"),
        )

    async def replace(self, user_id: str, workspace_id: str, override: Any) -> GuardrailsView:
        """Replace the workspace's override (`{}` clears it). Validated before anything is written."""
        await self._workspaces.membership(user_id, workspace_id, "admin")
        if not isinstance(override, Mapping):
            raise PolicyError("", "the override must be a JSON object")
        if len(canonical(override).encode()) > MAX_OVERRIDE_BYTES:
            raise BadRequest(
                f"The guardrail override is over {MAX_OVERRIDE_BYTES // 1024} KiB; shorten its lists.",
                code="guardrail_policy_too_large",
            )
        _, plan = await self._plan_of(workspace_id)
        merge(self._plans.for_plan(plan), override)  # raises PolicyError naming the bad field
        await self._write(user_id, workspace_id, dict(override))
        log.info(
            "workspace guardrails replaced",
            extra={
                "workspace_id": workspace_id,
                "by": user_id,
                "checks": sorted(override.get("checks") or {}),
            },
        )
        return await self.view(user_id, workspace_id)

    async def _plan_of(self, workspace_id: str) -> tuple[dict[str, Any], str]:
        repo = self._workspaces.repo
        doc = await repo.get(repo.workspace_ref(workspace_id))
        if doc is None:
            raise WorkspaceNotFound()
        workspace = await self._workspaces.effective(workspace_id, doc)
        return doc, workspace.plan

    async def _write(self, user_id: str, workspace_id: str, override: dict[str, Any]) -> None:
        repo = self._workspaces.repo
        ws_ref, me_ref = repo.workspace_ref(workspace_id), repo.member_ref(workspace_id, user_id)
        at = now()

        @firestore.async_transactional
        async def body(tx: Any) -> None:
            ws, me = await repo.read(tx, ws_ref, me_ref)
            if ws is None or me is None:
                raise WorkspaceNotFound()
            if not at_least(me["role"], "admin"):
                raise RoleRequired("admin")
            changes = {FIELD: override, f"{FIELD}_updated_by": user_id, f"{FIELD}_updated_at": at}
            tx.update(ws_ref, {**changes, "updated_at": at})
            self._workspaces.audit.add(tx, item)

        checks = ",".join(sorted(override.get("checks") or {}))  # which checks, never the words listed
        details: dict[str, audit.Detail] = {"checks": checks, "cleared": not override}
        item = audit.entry(
            "guardrails.update", user_id, workspace_id=workspace_id, target=workspace_id, details=details
        )
        await body(repo.db.transaction())
        audit.emit(item)
