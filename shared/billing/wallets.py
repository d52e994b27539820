"""Which ledger wallet a payment is for.

Checkout metadata names the wallet paid for: a user's own wallet, or a workspace's wallet by its base id
`ws-{id}` (its balance is the sharded ledger wallets `ws-{id}~{k}`). A workspace's payments are granted,
clawed back and recorded on shard 0 (`ws-{id}~0`, the Workspace model's `wallet_id`): that is where
debt sits, and where the workspace service looks for the workspace's subscription.
"""

from __future__ import annotations

from shared.credits.shards import shard_wallet, workspace_wallet_base

_PREFIX = workspace_wallet_base("")


def workspace_of(wallet_id: str | None) -> str | None:
    """The workspace id of `ws-{id}` or of one of its shards `ws-{id}~{k}`; None for any other wallet."""
    if not wallet_id or not wallet_id.startswith(_PREFIX):
        return None
    workspace_id = wallet_id[len(_PREFIX) :].split("~", 1)[0]
    return workspace_id or None


def ledger_wallet(wallet_id: str) -> str:
    """The ledger wallet a payment for `wallet_id` lands on: shard 0 for a workspace, else itself."""
    workspace_id = workspace_of(wallet_id)
    if workspace_id is None:
        return wallet_id
    return shard_wallet(workspace_wallet_base(workspace_id), 0)
