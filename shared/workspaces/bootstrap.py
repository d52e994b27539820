"""Wire the workspace services from an instance's clients (built once per instance, on first use)."""

from __future__ import annotations

from dataclasses import dataclass

from google.cloud import firestore

from shared.adapters.secrets import SecretSource
from shared.auth.tokens import signing_secret
from shared.ledger.ledger import Ledger
from shared.ledger.schemas import Balance
from shared.ledger.shards import ShardedWallets
from shared.ledger.wallet_ids import workspace_wallet_base
from shared.settings import Settings
from shared.spending.members import WorkspaceSpending
from shared.workspaces.invitations import Invitations
from shared.workspaces.invite_tokens import InviteTokens
from shared.workspaces.service import WorkspaceService


@dataclass
class Workspaces:
    service: WorkspaceService
    invitations: Invitations
    wallets: ShardedWallets
    spending: WorkspaceSpending

    async def balance(self, user_id: str, workspace_id: str) -> tuple[Balance, int]:
        """The workspace wallet's balance (the sum of its shards) and its shard count; members only."""
        await self.service.membership(user_id, workspace_id)
        doc = await self.service.repo.get(self.service.repo.workspace_ref(workspace_id))
        shards = int((doc or {}).get("shards", 1))
        return await self.wallets.balance(workspace_wallet_base(workspace_id), shards), shards


def build_workspaces(
    settings: Settings,
    db: firestore.AsyncClient,
    ledger: Ledger,
    secrets: SecretSource,
    spending: WorkspaceSpending | None = None,
) -> Workspaces:
    """`spending`: the instance's own (the chat service's payer has one), so that one instance uses one
    sharded-wallet window for every feature."""
    configured = settings.workspace_invite_secret
    secret = configured.get_secret_value() if configured else signing_secret(settings, secrets)
    service = WorkspaceService(db, settings)
    spending = spending or WorkspaceSpending(db, ShardedWallets(db, ledger))
    return Workspaces(
        service=service,
        invitations=Invitations(service, InviteTokens(secret, settings.jwt_issuer)),
        wallets=spending.wallets,
        spending=spending,
    )
