"""Workspace records and the HTTP shapes of the workspace routes."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

Role = Literal["owner", "admin", "member"]
RANK: dict[str, int] = {"member": 0, "admin": 1, "owner": 2}


def at_least(role: str, needed: Role) -> bool:
    return RANK.get(role, -1) >= RANK[needed]


class Workspace(BaseModel):
    id: str
    name: str
    plan: str
    seats: int
    wallet_id: str = Field(description="The wallet payments credit (the workspace's first wallet shard).")
    created_by: str
    created_at: dt.datetime
    share_response_cache: bool = Field(
        False,
        description="Members are served each other's cached answers (false: each keeps their own).",
    )


class Member(BaseModel):
    user_id: str
    email: str
    role: Role
    monthly_limit: int | None = Field(None, description="Credits per UTC month; null: no limit.")
    joined_at: dt.datetime


class Invitation(BaseModel):
    id: str
    email: str
    role: Role
    expires_at: dt.datetime
    state: Literal["pending", "accepted", "revoked"]


# Requests.
class WorkspaceCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class WorkspaceUpdate(BaseModel):
    """The workspace's settings (owners and admins). Absent fields stay as they are."""

    share_response_cache: bool | None = Field(
        None,
        strict=True,
        description=(
            "Let members be served each other's cached answers. Off by default: a member never reads "
            "another member's answers from the response cache."
        ),
    )


class InviteCreate(BaseModel):
    email: str = Field(max_length=320)
    role: Literal["admin", "member"] = "member"


class InviteAccept(BaseModel):
    token: str = Field(min_length=1, max_length=2048)


class MemberUpdate(BaseModel):
    role: Role | None = None
    monthly_limit: int | None = Field(
        None, ge=0, description="0 or more credits; send clear_limit to remove it."
    )
    clear_limit: bool = False


# Responses.
class WorkspaceOut(Workspace):
    role: Role = Field(description="Your role in this workspace.")
    members: int


class WorkspaceList(BaseModel):
    object: Literal["list"] = "list"
    data: list[WorkspaceOut]


class MemberList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Member]


class InvitationCreated(Invitation):
    token: str = Field(description="Send this to the invitee; it is shown only here and works once.")
