"""Redis AUTH and TLS from settings (shared/adapters/redis.py, issue 11, item 12), against a real redis-server
started here with `--requirepass` (and TLS with a throwaway CA): the client the composition root builds
authenticates with the password from the secret source and verifies the server's certificate; without the
password, with another CA or to a name the certificate does not carry, it fails clearly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, ConnectionError, ResponseError

from shared.adapters.redis import RedisConfigError, redis_client, redis_options
from shared.adapters.secrets import EnvSecrets
from shared.bootstrap.clients import build_clients
from shared.settings import Settings
from tests.support.redis_server import Pki, make_pki, redis_server

pytestmark = pytest.mark.anyio
SECRET = "REDIS_TEST_AUTH_STRING"
PASSWORD = f"auth-{uuid.uuid4().hex}"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("redis-auth-tls")


@pytest.fixture(scope="module")
def plain_port(workdir: Path) -> Iterator[int]:
    with redis_server(PASSWORD, workdir) as port:
        yield port


@pytest.fixture(scope="module")
def pki(workdir: Path) -> Pki:
    return make_pki(workdir / "pki", "server")


@pytest.fixture(scope="module")
def tls_port(workdir: Path, pki: Pki) -> Iterator[int]:
    with redis_server(PASSWORD, workdir, pki) as port:
        yield port


def configured(url: str, **values: Any) -> Settings:
    return Settings().model_copy(update={"redis_url": url, **values})


async def roundtrip(client: Redis) -> str | None:
    try:
        key = f"t:{uuid.uuid4().hex}"
        await client.set(key, "ok", ex=30)
        value = await client.get(key)
        return None if value is None else str(value)
    finally:
        await client.aclose()


SECRETS = EnvSecrets({SECRET: PASSWORD})


async def test_the_password_comes_from_the_named_secret(plain_port: int) -> None:
    settings = configured(f"redis://127.0.0.1:{plain_port}/0", redis_password_secret=SECRET)
    assert await roundtrip(redis_client(settings, SECRETS)) == "ok"


async def test_the_composition_root_builds_the_authenticated_client(
    plain_port: int, settings: Settings
) -> None:
    secured = settings.model_copy(
        update={"redis_url": f"redis://127.0.0.1:{plain_port}/0", "redis_password_secret": SECRET}
    )
    clients = build_clients(secured, SECRETS)
    try:
        assert await clients.redis.ping()
    finally:
        await clients.close()


async def test_without_the_password_or_with_a_wrong_one_redis_refuses(plain_port: int) -> None:
    url = f"redis://127.0.0.1:{plain_port}/0"
    with pytest.raises(AuthenticationError, match=r"(?i)authenticat"):
        await roundtrip(redis_client(configured(url), SECRETS))
    wrong = EnvSecrets({SECRET: "not-the-password"})
    with pytest.raises((AuthenticationError, ResponseError), match="invalid username-password pair"):
        await roundtrip(redis_client(configured(url, redis_password_secret=SECRET), wrong))


def test_a_named_secret_without_a_value_stops_the_start() -> None:
    settings = configured("redis://127.0.0.1:6379/0", redis_password_secret="REDIS_AUTH_STRING")
    with pytest.raises(
        RedisConfigError, match=r"REDIS_PASSWORD_SECRET names 'REDIS_AUTH_STRING'.*redis-auth-string"
    ):
        redis_client(settings, EnvSecrets({}))


async def test_tls_with_the_servers_ca_and_the_password(tls_port: int, pki: Pki) -> None:
    url = f"rediss://127.0.0.1:{tls_port}/0"
    by_path = configured(url, redis_password_secret=SECRET, redis_ca_cert_path=pki.ca)
    assert await roundtrip(redis_client(by_path, SECRETS)) == "ok"
    by_text = configured(url, redis_password_secret=SECRET, redis_ca_cert=pki.ca.read_text())
    assert await roundtrip(redis_client(by_text, SECRETS)) == "ok"


async def test_tls_refuses_a_server_its_ca_did_not_sign(tls_port: int, workdir: Path) -> None:
    other = make_pki(workdir / "other", "other")
    url = f"rediss://127.0.0.1:{tls_port}/0"
    for settings in (
        configured(url, redis_password_secret=SECRET, redis_ca_cert_path=other.ca),
        configured(url, redis_password_secret=SECRET),  # the system's CAs never signed it either
    ):
        with pytest.raises(ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await roundtrip(redis_client(settings, SECRETS))


async def test_the_hostname_check_and_turning_it_off(tls_port: int, pki: Pki) -> None:
    """The certificate names 127.0.0.1 only: `localhost` fails the hostname check unless it is off (as
    Terraform sets for Memorystore, whose CA is the instance's own); the chain is verified either way."""
    url = f"rediss://localhost:{tls_port}/0"
    strict = configured(url, redis_password_secret=SECRET, redis_ca_cert_path=pki.ca)
    with pytest.raises(ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        await roundtrip(redis_client(strict, SECRETS))
    relaxed = strict.model_copy(update={"redis_tls_check_hostname": False})
    assert await roundtrip(redis_client(relaxed, SECRETS)) == "ok"


async def test_plain_redis_to_the_tls_port_fails(tls_port: int) -> None:
    settings = configured(f"redis://127.0.0.1:{tls_port}/0", redis_password_secret=SECRET)
    with pytest.raises(ConnectionError):
        await roundtrip(redis_client(settings, SECRETS))


def test_configuration_errors_name_the_setting(tmp_path: Path, pki: Pki) -> None:
    plain = "redis://127.0.0.1:6379/0"
    with pytest.raises(RedisConfigError, match="REDIS_URL is not rediss://"):
        redis_options(configured(plain, redis_ca_cert_path=pki.ca), SECRETS)
    tls = "rediss://127.0.0.1:6378/0"
    with pytest.raises(RedisConfigError, match="not both"):
        redis_options(configured(tls, redis_ca_cert_path=pki.ca, redis_ca_cert=pki.ca.read_text()), SECRETS)
    with pytest.raises(RedisConfigError, match="REDIS_CA_CERT is not a PEM"):
        redis_options(configured(tls, redis_ca_cert="hello"), SECRETS)
    with pytest.raises(RedisConfigError, match="REDIS_CA_CERT_PATH"):
        redis_options(configured(tls, redis_ca_cert_path=tmp_path / "missing.pem"), SECRETS)
    options = redis_options(configured(tls, redis_ca_cert_path=pki.ca), SECRETS)
    assert options["ssl_cert_reqs"] == "required" and options["ssl_check_hostname"] is True
    assert redis_options(configured(plain), SECRETS) == {"decode_responses": True}, "local runs unchanged"
