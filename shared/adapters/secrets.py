"""Secrets behind one interface: environment variables locally, Secret Manager in the cloud."""

from __future__ import annotations

import os
from typing import Protocol

from shared.settings import Settings


class SecretSource(Protocol):
    def get(self, name: str) -> str | None: ...


class EnvSecrets:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self._environ = environ if environ is not None else dict(os.environ)

    def get(self, name: str) -> str | None:
        value = self._environ.get(name)
        return value or None


class SecretManagerSecrets:
    """Reads `projects/{project}/secrets/{name}/versions/latest`, once per instance; env wins if set."""

    def __init__(self, project: str) -> None:
        from google.api_core import exceptions
        from google.cloud import secretmanager

        self._client = secretmanager.SecretManagerServiceClient()
        self._project = project
        self._missing = (exceptions.NotFound, exceptions.PermissionDenied)
        self._cache: dict[str, str | None] = {}

    def get(self, name: str) -> str | None:
        if os.environ.get(name):
            return os.environ[name]
        if name not in self._cache:
            path = f"projects/{self._project}/secrets/{name.lower().replace('_', '-')}/versions/latest"
            try:
                response = self._client.access_secret_version(name=path)
                self._cache[name] = response.payload.data.decode() or None
            except self._missing:
                self._cache[name] = None
        return self._cache[name]


def secret_source(settings: Settings) -> SecretSource:
    if settings.secret_source == "secret-manager":  # noqa: S105
        return SecretManagerSecrets(settings.gcp_project)
    return EnvSecrets()
