"""Files, in OpenAI's shape (the official SDK's `client.files` works unchanged): upload (multipart `file` and
`purpose`), list, read, download the content, delete. With `X-Workspace-ID` an upload belongs to the
workspace and the list is the workspace's; a file that is not yours (or your workspace's) is a 404."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response

from run_services.api.deps import CurrentPrincipal, ServicesDep, Spender
from shared.errors import BadRequest
from shared.files.multipart import parse_form
from shared.files.schemas import FileDeleted, FileList, FileObject
from shared.files.service import MAX_LIST

router = APIRouter(prefix="/v1/files", tags=["files"])


@router.post("")
async def create_file(request: Request, principal: Spender, services: ServicesDep) -> FileObject:
    """Upload a file: multipart `file` and `purpose` (assistants or user_data)."""
    await services.rate_limits.check_request(principal)
    form = parse_form(request.headers.get("content-type", ""), await request.body())
    upload, purpose = form.get("file"), form.get("purpose")
    if upload is None or upload.filename is None:
        raise BadRequest("Send the file as the multipart part `file`.", code="missing_file")
    if purpose is None:
        raise BadRequest("Send `purpose` (assistants or user_data).", code="invalid_purpose")
    return await services.knowledge.files.create(
        principal,
        services.offers.get(principal.plan),
        upload.filename,
        purpose.content.decode("utf-8", "replace").strip(),
        upload.content,
    )


@router.get("")
async def list_files(
    principal: Spender,
    services: ServicesDep,
    purpose: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = MAX_LIST,
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> FileList:
    """Yours (or, with X-Workspace-ID, the workspace's), newest first unless `order=asc`."""
    return await services.knowledge.files.list_for(principal, purpose, limit, order, after)


@router.get("/{file_id}")
async def get_file(file_id: str, principal: CurrentPrincipal, services: ServicesDep) -> FileObject:
    return await services.knowledge.files.get(principal, file_id)


@router.get("/{file_id}/content")
async def file_content(file_id: str, principal: CurrentPrincipal, services: ServicesDep) -> Response:
    data, mime, filename = await services.knowledge.files.content(principal, file_id)
    disposition = f"attachment; filename*=UTF-8''{quote(filename)}"
    return Response(data, media_type=mime, headers={"Content-Disposition": disposition})


@router.delete("/{file_id}")
async def delete_file(file_id: str, principal: CurrentPrincipal, services: ServicesDep) -> FileDeleted:
    """Removes the metadata and gives its bytes back to the quota at once, then deletes the bytes."""
    await services.rate_limits.check_request(principal)
    return await services.knowledge.files.delete(principal, file_id)
