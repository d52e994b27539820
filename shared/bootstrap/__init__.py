"""The composition root: the one place that builds the adapters and services of a process, from Settings.

- clients.py: the outside systems (Firestore, Redis, Pub/Sub, secrets, the model catalog), once per process.
- money.py: the ledger, who pays (payer, workspace shards, member limits), caps, usage records, and
  buying credits.
- jobs.py: the jobs (image, video, research, export): planned by the API, run by the worker.
- api.py: the API service (build_services); functions.py: the jobs worker, the reconciler, payments.

Constructors below this package take their collaborators ready-made; tests hand real adapters or fakes
through the same functions.
"""

from shared.bootstrap.api import Services, Workspaces, build_auth, build_services, close_services
from shared.bootstrap.clients import Clients, build_clients
from shared.bootstrap.functions import (
    Payments,
    Reconciler,
    WorkerServices,
    build_payments,
    build_reconciler,
    build_worker,
    sweep_once,
)
from shared.bootstrap.jobs import Jobs, build_jobs
from shared.bootstrap.money import Buying, Money, build_buying, build_money

__all__ = [
    "Buying",
    "Clients",
    "Jobs",
    "Money",
    "Payments",
    "Reconciler",
    "Services",
    "WorkerServices",
    "Workspaces",
    "build_auth",
    "build_buying",
    "build_clients",
    "build_jobs",
    "build_money",
    "build_payments",
    "build_reconciler",
    "build_services",
    "build_worker",
    "close_services",
    "sweep_once",
]
