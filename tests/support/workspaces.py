"""Helpers of the workspace tests: creating a workspace and joining it over HTTP, an API error's
(status, code), and a member added straight through the service."""

from __future__ import annotations

from typing import Any

import httpx

from shared.workspaces.service import WorkspaceService
from tests.support.helpers import User


def create(client: httpx.Client, owner: User, name: str = "Acme") -> dict[str, Any]:
    response = client.post("/v1/workspaces", json={"name": name}, headers=owner.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def invite(client: httpx.Client, by: User, ws: str, email: str, role: str = "member") -> httpx.Response:
    return client.post(
        f"/v1/workspaces/{ws}/invitations", json={"email": email, "role": role}, headers=by.headers
    )


def join(client: httpx.Client, by: User, ws: str, who: User, role: str = "member") -> None:
    sent = invite(client, by, ws, who.email, role)
    assert sent.status_code == 201, sent.text
    accepted = client.post(
        "/v1/workspaces/invitations/accept", json={"token": sent.json()["token"]}, headers=who.headers
    )
    assert accepted.status_code == 200, accepted.text


def code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


async def add_member(
    service: WorkspaceService, workspace_id: str, user_id: str, limit: int | None = None
) -> None:
    """A member as an accepted invitation leaves one (the invitation flow is tested over HTTP)."""
    await service.repo.member_ref(workspace_id, user_id).set(
        {
            "user_id": user_id,
            "workspace_id": workspace_id,
            "email": f"{user_id}@example.com",
            "role": "member",
            "monthly_limit": limit,
            "joined_at": service.clock(),
        }
    )
