"""The reconciler: expires pending holds nobody settled or voided, so their credits come back; expires
the lots of plan credits whose period ended in wallets nobody touched since; sweeps the jobs: fails
those past their deadline (releasing their credits once) and re-drives steps whose task was lost; and
re-validates SSLCommerz orders whose validation call failed.

Cloud Scheduler calls it over HTTP every minute; `python -m functions.reconciler.main` runs one
sweep from a shell. An instance builds its clients once (shared/bootstrap) in its own event loop.
"""

from __future__ import annotations

import asyncio
import logging

import flask
import functions_framework

from shared.bootstrap import Reconciler, build_reconciler
from shared.logs import configure_logging
from shared.loop_thread import Once, Served
from shared.settings import Settings, get_settings

log = logging.getLogger("reconciler")


def _sweep(served: Served[Reconciler]) -> dict[str, int]:
    done = served.loop.run(served.services.sweep_all())
    log.info("reconcile sweep done", extra={**done, "batch": served.settings.reconcile_batch})
    return done


_instance: Once[Served[Reconciler]] = Once(lambda settings: Served(settings, build_reconciler))


@functions_framework.http
def reconcile(request: flask.Request) -> flask.Response:
    return flask.jsonify(_sweep(_instance.get()))


async def _sweep_once(settings: Settings) -> dict[str, int]:
    reconciler = build_reconciler(settings)
    try:
        return await reconciler.sweep_all()
    finally:
        await reconciler.close()


def main() -> None:
    """One sweep from a shell, in a loop of its own."""
    settings = get_settings()
    configure_logging(settings.log_level)
    done = asyncio.run(_sweep_once(settings))
    log.info("reconcile sweep done", extra={**done, "batch": settings.reconcile_batch})


if __name__ == "__main__":
    main()
