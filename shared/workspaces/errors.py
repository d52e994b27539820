"""Workspace errors, mapped to HTTP by the global AppError handler."""

from __future__ import annotations

from shared.errors import BadRequest, Conflict, Forbidden, NotFound, PaymentRequired


class WorkspaceNotFound(NotFound):
    """Also what a non-member sees for a workspace that exists: its existence is not disclosed."""

    code = "workspace_not_found"

    def __init__(self) -> None:
        super().__init__(
            "No such workspace, or you are not a member of it. Check the id, or ask an admin to invite you."
        )


class MemberNotFound(NotFound):
    code = "member_not_found"

    def __init__(self) -> None:
        super().__init__("That user is not a member of this workspace; list the members to see who is.")


class InvitationNotFound(NotFound):
    code = "invitation_not_found"

    def __init__(self) -> None:
        super().__init__("No such invitation in this workspace; list its invitations to see them.")


class RoleRequired(Forbidden):
    code = "role_required"

    def __init__(self, needed: str) -> None:
        super().__init__(f"Only a workspace {needed} can do this; ask one of them.")


class OwnLimit(Forbidden):
    """A member who could set their own limit could lift the cap meant for them."""

    code = "cannot_change_own_limit"

    def __init__(self) -> None:
        super().__init__(
            "Nobody changes their own monthly limit; ask another admin (or an owner, for an admin's or "
            "owner's limit) to change it."
        )


class TooManyWorkspaces(Conflict):
    code = "too_many_workspaces"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"You already own {limit} workspaces, the most one account may; use one of them, or hand one "
            "to another owner and leave it."
        )


class LastOwner(Conflict):
    code = "last_owner"

    def __init__(self) -> None:
        super().__init__(
            "A workspace needs at least one owner: make another member an owner first, "
            "then leave or step down."
        )


class SeatsFull(Conflict):
    code = "seats_exhausted"

    def __init__(self, seats: int) -> None:
        super().__init__(
            f"All {seats} seats of this workspace are taken (members and pending invitations). "
            "Add seats to the subscription, revoke an invitation or remove a member, then invite again."
        )


class InvalidInvitation(BadRequest):
    code = "invalid_invitation"

    def __init__(self, why: str) -> None:
        super().__init__(f"This invitation cannot be used: {why}. Ask a workspace admin for a new one.")


class InvitationEmailMismatch(Forbidden):
    code = "invitation_email_mismatch"

    def __init__(self) -> None:
        super().__init__(
            "This invitation was sent to another email address. "
            "Sign in with the invited address and accept again."
        )


class AlreadyMember(Conflict):
    code = "already_member"

    def __init__(self) -> None:
        super().__init__("That user is already a member of this workspace; change their role instead.")


class MemberLimitExceeded(PaymentRequired):
    code = "member_limit_exceeded"

    def __init__(self, limit: int, used: int) -> None:
        super().__init__(
            f"Your monthly spending limit in this workspace is {limit} credits and {used} are used or held. "
            "Ask a workspace admin to raise your limit, or wait for next month."
        )
        self.limit = limit
        self.used = used
