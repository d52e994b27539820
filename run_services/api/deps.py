"""FastAPI dependencies as Annotated aliases."""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Request

from shared.assistants.service import AssistantNotFound
from shared.auth.errors import ApiKeyNotFound
from shared.auth.schemas import Principal
from shared.bootstrap import Services, Workspaces
from shared.chat.stored_responses import ResponseNotFound
from shared.chat.threads import ThreadNotFound
from shared.errors import NotFound, Unauthorized
from shared.files.uploads import UPLOAD_ID, UploadNotFound
from shared.jobs.errors import JobNotFound
from shared.knowledge.batches import BatchNotFound
from shared.knowledge.service import StoreNotFound
from shared.knowledge.store_files import StoreFileNotFound
from shared.ledger.wallet_ids import workspace_wallet_base
from shared.limits.ratelimit.service import RateLimits, RateLimitState
from shared.logs import caller_address
from shared.templates.service import TemplateNotFound
from shared.workspaces.errors import InvitationNotFound, MemberNotFound, WorkspaceNotFound

WORKSPACE_HEADER = "x-workspace-id"


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_principal(request: Request, services: ServicesDep) -> Principal:
    """The caller, from `Authorization: Bearer <token or API key>`, or from `x-api-key: <API key>` as
    Anthropic's SDKs and Claude Code send it."""
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if not header and request.headers.get("x-api-key", "").strip():
        scheme, credential = "bearer", request.headers["x-api-key"]
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthorized(
            "Send `Authorization: Bearer <access token or API key>` (or `x-api-key: <API key>`).",
            code="missing_credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return await services.auth.authenticate(credential.strip())


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def get_workspaces(services: ServicesDep) -> Workspaces:
    return services.workspaces


WorkspacesDep = Annotated[Workspaces, Depends(get_workspaces)]


async def get_spender(request: Request, principal: CurrentPrincipal, services: ServicesDep) -> Principal:
    """Who pays for a model call. With `X-Workspace-ID: <id>` a member spends the workspace's wallet under
    its plan (rate limits, budgets, allowed models) and within their monthly limit; a workspace the
    caller is not a member of is 404, like any other workspace route."""
    workspace_id = request.headers.get(WORKSPACE_HEADER, "").strip()
    if not workspace_id:
        return principal
    return await spending_as(services.workspaces, principal, workspace_id)


async def spending_as(workspaces: Workspaces, principal: Principal, workspace_id: str) -> Principal:
    """The principal spending the workspace's wallet; 404 unless they are a member."""
    await workspaces.service.membership(principal.user_id, workspace_id)
    doc = await workspaces.service.repo.get(workspaces.service.repo.workspace_ref(workspace_id))
    if doc is None:
        raise WorkspaceNotFound()
    workspace = await workspaces.service.effective(workspace_id, doc)
    return dataclasses.replace(
        principal,
        wallet_id=workspace_wallet_base(workspace_id),
        plan=workspace.plan,
        workspace_id=workspace_id,
    )


# For every route that calls a model: the caller, paying from their own wallet or their workspace's.
Spender = Annotated[Principal, Depends(get_spender)]


def get_rate_limits(services: ServicesDep) -> RateLimits:
    return services.rate_limits


async def rate_limit(
    principal: Spender, limits: Annotated[RateLimits, Depends(get_rate_limits)]
) -> RateLimitState:
    """One request from the caller's per-minute buckets (user and API key), or 429 with Retry-After.
    Routes copy `state.headers()` onto their response (X-RateLimit-*)."""
    return await limits.check_request(principal)


# For every route that calls a model (chat, thread messages, jobs).
RateLimitDep = Annotated[RateLimitState, Depends(rate_limit)]


def client_ip(request: Request) -> str:
    """The caller's address (shared/logs.py caller_address)."""
    return caller_address(
        request.headers.get("x-forwarded-for"), request.client.host if request.client else None
    )


def request_id(request: Request) -> str:
    rid: str = request.scope.get("state", {}).get("request_id", "")
    return rid


# Path ids (issue 11, item 13). Every id in a path is checked against the shape our ids have before
# any store is asked: Firestore raises (a 500) on ids it reserves (`__main__`, `..`, over 1,500 bytes,
# a `/`), and anything else of the wrong shape cannot exist anyway, so both answer the route's 404.
# new_id() makes 32 hex digits (users, threads, jobs, workspaces, invitations), stable_id() 40 (a job
# created with an Idempotency-Key); API keys are `key_` and 12 hex digits (shared/auth/service.py).
HEX_ID = r"[0-9a-f]{32}(?:[0-9a-f]{8})?"
API_KEY_ID = r"key_[0-9a-f]{12}"


def path_id(name: str, shape: str, not_found: Callable[[str], NotFound], description: str) -> Any:
    """A dependency declaring the path parameter `name` (documented with its pattern) that answers
    `not_found(value)` for a value of another shape. Its signature is built because FastAPI reads the
    parameter's name from it, and one function serves every id."""
    pattern = re.compile(shape)

    async def check(**path: str) -> str:
        value = path[name]
        if pattern.fullmatch(value) is None:
            raise not_found(value[:64])
        return value

    declared = Annotated[str, Path(description=description, json_schema_extra={"pattern": f"^{shape}$"})]
    parameter = inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=declared)
    setattr(check, "__signature__", inspect.Signature([parameter], return_annotation=str))  # noqa: B010
    return Depends(check)


JobId = Annotated[str, path_id("job_id", HEX_ID, JobNotFound, "A job's id.")]
ThreadId = Annotated[
    str, path_id("thread_id", HEX_ID, lambda _: ThreadNotFound("No such thread."), "A thread's id.")
]
WorkspaceId = Annotated[
    str, path_id("workspace_id", HEX_ID, lambda _: WorkspaceNotFound(), "A workspace's id.")
]
MemberId = Annotated[str, path_id("user_id", HEX_ID, lambda _: MemberNotFound(), "A member's user id.")]
TemplateId = Annotated[
    str, path_id("template_id", r"tpl_[a-z0-9_]{1,80}", lambda _: TemplateNotFound(), "A template's id.")
]
ResponseId = Annotated[
    str,
    path_id(
        "response_id",
        r"resp_[A-Za-z0-9_-]{1,100}",
        lambda v: ResponseNotFound(f"Response with id '{v}' not found."),
        "A stored response's id.",
    ),
]
InvitationId = Annotated[
    str, path_id("invite_id", HEX_ID, lambda _: InvitationNotFound(), "An invitation's id.")
]
ApiKeyId = Annotated[
    str, path_id("key_id", API_KEY_ID, lambda _: ApiKeyNotFound(), "An API key's id (`key_…`).")
]
AssistantId = Annotated[
    str, path_id("assistant_id", f"asst_{HEX_ID}", lambda _: AssistantNotFound(), "An assistant's id.")
]
VectorStoreId = Annotated[
    str, path_id("vector_store_id", r"vs_[0-9a-f]{32}", lambda _: StoreNotFound(), "A vector store's id.")
]
StoreFileId = Annotated[
    str,
    path_id("file_id", r"file-[0-9a-f]{32}", lambda _: StoreFileNotFound(), "A file's id (`file-…`)."),
]
FileBatchId = Annotated[
    str, path_id("batch_id", r"vsfb_[0-9a-f]{32}", lambda _: BatchNotFound(), "A file batch's id.")
]
UploadId = Annotated[
    str, path_id("upload_id", UPLOAD_ID, lambda _: UploadNotFound(), "An upload's id (`upload_…`).")
]


@dataclasses.dataclass(frozen=True)
class ListPage:
    """One page of a list in OpenAI's shape: `limit` (1-100), `order` by creation, `after` an object's id."""

    limit: int
    order: Literal["asc", "desc"]
    after: str | None


def list_page(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> ListPage:
    return ListPage(limit, order, after)


Paging = Annotated[ListPage, Depends(list_page)]
