"""Wallet ids: a user's own wallet, and a workspace's sharded wallet.

A workspace's wallet is named by its base id `ws-{id}`; its balance lives on the ledger wallets
`ws-{id}~{k}` (its shards, shared/ledger/shards.py). Checkout metadata names the wallet paid for by its
base id; a workspace's payments are granted, clawed back and recorded on shard 0 (`ws-{id}~0`, the
Workspace model's `wallet_id`): that is where debt sits, and where the workspace service looks for the
workspace's subscription.
"""

from __future__ import annotations

WORKSPACE_PREFIX = "ws-"


def workspace_wallet_base(workspace_id: str) -> str:
    return f"{WORKSPACE_PREFIX}{workspace_id}"


def shard_wallet(base: str, k: int) -> str:
    return f"{base}~{k}"


def shard_wallets(base: str, count: int) -> list[str]:
    return [shard_wallet(base, k) for k in range(count)]


def workspace_of(wallet_id: str | None) -> str | None:
    """The workspace id of `ws-{id}` or of one of its shards `ws-{id}~{k}`; None for any other wallet."""
    if not wallet_id or not wallet_id.startswith(WORKSPACE_PREFIX):
        return None
    workspace_id = wallet_id.removeprefix(WORKSPACE_PREFIX).split("~", 1)[0]
    return workspace_id or None


def shard_of(wallet_id: str) -> str | None:
    """The shard wallet when the id names one (`ws-{id}~{k}`); None for a base id (found by lookup)."""
    return wallet_id if "~" in wallet_id else None


def ledger_wallet(wallet_id: str) -> str:
    """The ledger wallet a payment for `wallet_id` lands on: shard 0 for a workspace, else itself."""
    workspace_id = workspace_of(wallet_id)
    if workspace_id is None:
        return wallet_id
    return shard_wallet(workspace_wallet_base(workspace_id), 0)
