"""The one place that builds Firestore clients.

FIRESTORE_EMULATOR_HOST, when set, points them at the emulator.
"""

from __future__ import annotations

from google.cloud import firestore

from shared.settings import Settings


def async_client(settings: Settings) -> firestore.AsyncClient:
    return firestore.AsyncClient(project=settings.gcp_project)


def sync_client(settings: Settings) -> firestore.Client:
    return firestore.Client(project=settings.gcp_project)
