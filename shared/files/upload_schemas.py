"""The Upload and Upload Part objects in OpenAI's shapes (the official SDK's `client.uploads` parses them),
with our extension on a new upload: the signed URL to PUT the bytes to, and the headers that PUT sends."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from shared.files.schemas import FileObject

UploadStatus = Literal["pending", "completed", "cancelled", "expired"]


class UploadCreate(BaseModel):
    filename: str = Field(min_length=1, max_length=1_000)
    purpose: str = Field(max_length=40)
    bytes: int = Field(ge=0, le=1 << 40)
    mime_type: str = Field(min_length=3, max_length=255, pattern=r"^[\w.+-]+/[\w.+-]+(\s*;.*)?$")


class UploadComplete(BaseModel):
    part_ids: list[str] = Field(default_factory=list, max_length=1_000)
    md5: str | None = Field(None, max_length=64)


class UploadObject(BaseModel):
    id: str
    object: Literal["upload"] = "upload"
    bytes: int
    created_at: int
    expires_at: int
    filename: str
    purpose: str
    status: UploadStatus
    file: FileObject | None = None
    # Ours, on the answer to POST /v1/uploads only: PUT the bytes here (with these headers) instead of parts.
    upload_url: str | None = None
    upload_headers: dict[str, str] | None = None


class UploadPart(BaseModel):
    id: str
    object: Literal["upload.part"] = "upload.part"
    created_at: int
    upload_id: str
