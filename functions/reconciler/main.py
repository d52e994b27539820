"""The reconciler: expires pending holds nobody settled or voided, so their credits come back; expires
the lots of plan credits whose period ended in wallets nobody touched since; sweeps the jobs: fails
those past their deadline (releasing their credits once) and re-drives steps whose task was lost; and
re-validates SSLCommerz orders whose validation call failed.

Cloud Scheduler calls it over HTTP every minute; `python -m functions.reconciler.main` runs one
sweep from a shell.
"""

from __future__ import annotations

import asyncio
import functools
import logging

import flask
import functions_framework

from shared.adapters.firestore import async_client
from shared.jobs.bootstrap import sweep_once
from shared.ledger.ledger import Ledger
from shared.logs import configure_logging
from shared.purchases.reconcile import recheck_orders
from shared.settings import Settings, get_settings

log = logging.getLogger("reconciler")


@functools.cache
def _configure(level: str) -> None:
    configure_logging(level)


async def sweep(settings: Settings) -> tuple[int, int]:
    """Expire one batch of due holds, then one batch of wallets' due lots: (holds, lots) expired.
    The client lives in this event loop only."""
    db = async_client(settings)
    try:
        ledger = Ledger(db, settings)
        holds = await ledger.expire_due(settings.reconcile_batch)
        return holds, await ledger.expire_lots(settings.reconcile_batch)
    finally:
        db.close()
        # AsyncClient.close() leaves the gRPC channel open; close it while its event loop runs.
        await db._firestore_api.transport.close()


async def sweep_all(settings: Settings) -> dict[str, int]:
    expired, lots_expired = await sweep(settings)
    jobs = await sweep_once(settings)
    orders = await recheck_orders(settings)
    return {
        "expired": expired,
        "lots_expired": lots_expired,
        "jobs_expired": jobs.expired,
        "jobs_redriven": jobs.redriven,
        **{f"orders_{state}": count for state, count in orders.items()},
    }


def run_once() -> dict[str, int]:
    settings = get_settings()
    _configure(settings.log_level)
    done = asyncio.run(sweep_all(settings))
    log.info("reconcile sweep done", extra={**done, "batch": settings.reconcile_batch})
    return done


@functions_framework.http
def reconcile(request: flask.Request) -> flask.Response:
    return flask.jsonify(run_once())


def main() -> None:
    run_once()


if __name__ == "__main__":
    main()
