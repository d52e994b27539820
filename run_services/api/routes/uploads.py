"""Uploads, in OpenAI's shape (the official SDK's `client.uploads` works unchanged): create an upload, send
its bytes, complete it into a File. The bytes go either straight to Cloud Storage through the signed
`upload_url` the create answers with (one PUT, never through this API), or as parts of at most 8 MB
(`POST /v1/uploads/{id}/parts`, multipart `data`). See shared/files/uploads.py."""

from __future__ import annotations

from fastapi import APIRouter, Request

from run_services.api.deps import ServicesDep, Spender, UploadId
from shared.errors import BadRequest
from shared.files.multipart import parse_form
from shared.files.upload_schemas import UploadComplete, UploadCreate, UploadObject, UploadPart
from shared.files.uploads_complete import complete

router = APIRouter(prefix="/v1/uploads", tags=["files"])


@router.post("")
async def create_upload(body: UploadCreate, principal: Spender, services: ServicesDep) -> UploadObject:
    """Start an upload of `bytes` bytes (at most the plan's file size). PUT them to `upload_url` with
    `upload_headers`, or send parts; then complete it within the hour (`expires_at`)."""
    await services.rate_limits.check_request(principal)
    return await services.knowledge.uploads.create(principal, services.offers.get(principal.plan), body)


@router.post("/{upload_id}/parts")
async def add_part(
    upload_id: UploadId, request: Request, principal: Spender, services: ServicesDep
) -> UploadPart:
    """One part (multipart `data`, at most 8 MB); complete names the parts in their order."""
    await services.rate_limits.check_request(principal)
    uploads = services.knowledge.uploads
    await uploads.pending(principal, upload_id)  # someone else's upload is a 404 before the body is read
    form = parse_form(request.headers.get("content-type", ""), await request.body())
    data = form.get("data")
    if data is None:
        raise BadRequest("Send the part's bytes as the multipart part `data`.", code="missing_data")
    return await uploads.add_part(principal, upload_id, data.content)


@router.post("/{upload_id}/complete")
async def complete_upload(
    upload_id: UploadId, body: UploadComplete, principal: Spender, services: ServicesDep
) -> UploadObject:
    """Make the uploaded bytes a File (`part_ids` in order, or none after a PUT to `upload_url`)."""
    await services.rate_limits.check_request(principal)
    offer = services.offers.get(principal.plan)
    return await complete(services.knowledge.uploads, principal, offer, upload_id, body)


@router.post("/{upload_id}/cancel")
async def cancel_upload(upload_id: UploadId, principal: Spender, services: ServicesDep) -> UploadObject:
    """Cancel a pending upload; its bytes are deleted at once."""
    await services.rate_limits.check_request(principal)
    return await services.knowledge.uploads.cancel(principal, upload_id)
