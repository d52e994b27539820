"""Redis: the one place a client is built from settings (shared/bootstrap/clients.py calls `redis_client`).

- `REDIS_URL`: `redis://HOST:PORT/DB` locally; `rediss://HOST:PORT/DB` for TLS (Memorystore with in-transit
  encryption listens on 6378).
- AUTH: `REDIS_PASSWORD_SECRET` names the secret that holds the password (Memorystore's AUTH string),
  read through the secret source: the environment variable of that name locally, the Secret Manager
  secret named like it (lower case, dashes) in the cloud. A named secret nobody can read stops the
  process at startup: rate limits and budgets let calls through when Redis fails, so a wrong password
  must not look like a Redis outage.
- TLS: the server's certificate is always verified: against `REDIS_CA_CERT` (PEM text, Terraform passes
  the instance's `server_ca_certs`) or `REDIS_CA_CERT_PATH` (a PEM file), else the system's CAs.
  `REDIS_TLS_CHECK_HOSTNAME` (default on) also requires the certificate to name the host connected to.

Every configuration error is a `RedisConfigError` naming the setting to fix.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis

from shared.adapters.secrets import SecretSource
from shared.settings import Settings


class RedisConfigError(RuntimeError):
    """A startup error: Redis is configured in a way that cannot work or would not be secure."""


def redis_client(settings: Settings, secrets: SecretSource) -> Redis:
    """The process's Redis client (it connects on first use)."""
    return Redis.from_url(settings.redis_url, **redis_options(settings, secrets))


def redis_options(settings: Settings, secrets: SecretSource) -> dict[str, Any]:
    """The keyword arguments `Redis.from_url(settings.redis_url, ...)` gets: password and TLS options."""
    options: dict[str, Any] = {"decode_responses": True}
    password = _password(settings, secrets)
    if password is not None:
        options["password"] = password
    tls = urlsplit(settings.redis_url).scheme == "rediss"
    ca_text, ca_path = settings.redis_ca_cert, settings.redis_ca_cert_path
    if (ca_text or ca_path) and not tls:
        raise RedisConfigError(
            "REDIS_CA_CERT or REDIS_CA_CERT_PATH is set but REDIS_URL is not rediss://: the certificate "
            "would never be checked. Use rediss://HOST:PORT/DB (Memorystore's TLS port is 6378), or unset "
            "the CA."
        )
    if ca_text and ca_path:
        raise RedisConfigError(
            "Set one of REDIS_CA_CERT (PEM text) and REDIS_CA_CERT_PATH (a file), not both."
        )
    if not tls:
        return options
    options["ssl_cert_reqs"] = "required"
    options["ssl_check_hostname"] = settings.redis_tls_check_hostname
    if ca_text:
        if "-----BEGIN CERTIFICATE-----" not in ca_text:
            raise RedisConfigError("REDIS_CA_CERT is not a PEM certificate (-----BEGIN CERTIFICATE-----).")
        options["ssl_ca_data"] = ca_text
    elif ca_path:
        if not ca_path.is_file():
            raise RedisConfigError(f"REDIS_CA_CERT_PATH {str(ca_path)!r} is not a readable file.")
        options["ssl_ca_certs"] = str(ca_path)
    return options


def _password(settings: Settings, secrets: SecretSource) -> str | None:
    name = settings.redis_password_secret
    if not name:
        return None
    value = secrets.get(name)
    if not value:
        cloud = name.lower().replace("_", "-")
        raise RedisConfigError(
            f"REDIS_PASSWORD_SECRET names {name!r}, but it has no value here: locally set the environment "
            f"variable {name}; in the cloud add a version to the Secret Manager secret {cloud!r} and grant "
            "this service account roles/secretmanager.secretAccessor on it."
        )
    return value
