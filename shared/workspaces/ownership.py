"""Who may read an object owned by a user or a workspace (files, vector stores, assistants): a workspace's
object is its members', a user's object its user's; anyone else gets the object's own 404, the same as
for an object that does not exist."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.auth.schemas import Principal
from shared.workspaces.errors import WorkspaceNotFound
from shared.workspaces.service import WorkspaceService


async def check_readable(
    workspaces: WorkspaceService,
    principal: Principal,
    doc: dict[str, Any],
    not_found: Callable[[], Exception],
) -> None:
    """Raises `not_found()` unless `principal` may read the object stored as `doc`."""
    workspace_id = doc.get("workspace_id")
    if workspace_id:
        try:
            await workspaces.membership(principal.user_id, str(workspace_id))
        except WorkspaceNotFound as exc:
            raise not_found() from exc
    elif doc.get("user_id") != principal.user_id:
        raise not_found()
