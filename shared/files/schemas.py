"""The File object and its list, in OpenAI's shapes (the official SDK parses them unchanged)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Purpose = Literal["assistants", "user_data"]
PURPOSES: tuple[str, ...] = ("assistants", "user_data")


class FileObject(BaseModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int  # unix seconds
    filename: str
    purpose: str
    status: Literal["processed"] = "processed"
    status_details: str | None = None
    expires_at: int | None = None
    # Ours, beside OpenAI's: the sniffed type and the workspace that owns it (None: the uploader does).
    type: str
    workspace_id: str | None = None


class FileList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FileObject]
    has_more: bool
    first_id: str | None
    last_id: str | None


class FileDeleted(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool = True
