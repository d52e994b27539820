"""Grant credits by hand (support, goodwill, a correction), once per reference, with an audit entry.

    python -m scripts.grant_credits --user USER_ID --credits 50000 --ref TICKET-1234 \\
        --by operator@team --reason "refund for the outage of 2026-12-01"
    python -m scripts.grant_credits --workspace WS_ID --credits 50000 --ref TICKET-1235 --by ...

The grant is a ledger entry of kind `manual` keyed by `--ref`: running the same command twice grants
once (the second run says so). The audit trail gets `credits.manual_grant` (actor = `--by`, the amount and
the reason), readable by the account's owner (`GET /v1/me/audit`) or the workspace's admins. Runs against
the Firestore of the environment (FIRESTORE_EMULATOR_HOST locally; the project's credentials in the cloud).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from google.cloud import firestore

from shared.audit import trail as audit
from shared.ledger.ledger import Ledger
from shared.ledger.shards import ShardedWallets
from shared.ledger.wallet_ids import workspace_wallet_base
from shared.settings import Settings

KIND = "manual"
MAX_CREDITS = 100_000_000  # $100 at a million credits a dollar: a typo's ceiling, not a policy


async def grant(
    settings: Settings,
    *,
    credits: int,
    ref: str,
    by: str,
    reason: str,
    user_id: str | None = None,
    workspace_id: str | None = None,
) -> int:
    """The credits granted now (0 when `ref` was already granted); raises ValueError on bad input."""
    if (user_id is None) == (workspace_id is None):
        raise ValueError("name exactly one of --user and --workspace")
    if not 0 < credits <= MAX_CREDITS:
        raise ValueError(f"--credits must be between 1 and {MAX_CREDITS:,}")
    if not ref.strip() or not by.strip() or not reason.strip():
        raise ValueError("--ref, --by and --reason must not be empty")
    db = firestore.AsyncClient(project=settings.gcp_project)
    try:
        ledger = Ledger(db, settings)
        external_id = f"{KIND}:{ref}"
        if workspace_id is not None:
            base = workspace_wallet_base(workspace_id)
            shards = settings.workspace_wallet_shards
            added = await ShardedWallets(ledger).grant(base, shards, credits, external_id, kind=KIND)
            wallet = base
        else:
            assert user_id is not None
            added = credits if await ledger.grant(user_id, credits, external_id, kind=KIND) else 0
            wallet = user_id
        item = audit.entry(
            "credits.manual_grant",
            by,
            key=external_id,
            wallet_id=wallet,
            account=user_id,
            workspace_id=workspace_id,
            details={"credits": credits, "reason": reason[:200], "ref": ref},
        )
        await audit.AuditTrail(db).write(item)  # keyed by the ref: a second run writes nothing new
        return added
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user")
    who.add_argument("--workspace")
    parser.add_argument("--credits", type=int, required=True)
    parser.add_argument("--ref", required=True, help="the ticket or reference: one grant per ref")
    parser.add_argument("--by", required=True, help="who grants (an operator's name or address)")
    parser.add_argument("--reason", required=True)
    args = parser.parse_args(argv)
    try:
        added = asyncio.run(
            grant(
                Settings(),
                credits=args.credits,
                ref=args.ref,
                by=args.by,
                reason=args.reason,
                user_id=args.user,
                workspace_id=args.workspace,
            )
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    target = f"user {args.user}" if args.user else f"workspace {args.workspace}"
    if added:
        print(f"granted {added:,} credits to {target} (ref {args.ref})")
    else:
        print(f"ref {args.ref} was already granted to {target}: nothing changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
