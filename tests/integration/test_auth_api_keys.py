"""API keys over HTTP: shown once, stored hashed, usable as a bearer credential, deletable."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.support.helpers import User, assert_error


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def create_key(client: httpx.Client, user: User, name: str = "ci") -> dict[str, str]:
    response = client.post("/v1/api-keys", json={"name": name}, headers=user.headers)
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body


def test_create_list_and_use(client: httpx.Client, user: User) -> None:
    created = create_key(client, user, "laptop")
    assert created["key"].startswith("sk-")
    assert created["id"].startswith("key_")
    assert created["name"] == "laptop"
    assert created["prefix"] == created["key"][3:11]
    assert created["created_at"]

    listing = client.get("/v1/api-keys", headers=user.headers).json()
    assert listing["object"] == "list"
    assert [k["id"] for k in listing["data"]] == [created["id"]]
    assert "key" not in listing["data"][0]
    assert created["key"] not in str(listing)

    # The key authenticates as its owner (it reads the balance) but cannot manage keys: a leaked key
    # must not mint another one that outlives its revocation, list the others or revoke them.
    assert client.get("/v1/credits", headers=bearer(created["key"])).status_code == 200
    key = bearer(created["key"])
    assert_error(client.get("/v1/api-keys", headers=key), 403, "session_required")
    assert_error(client.post("/v1/api-keys", headers=key), 403, "session_required")
    assert_error(client.delete(f"/v1/api-keys/{created['id']}", headers=key), 403, "session_required")
    assert client.get("/v1/api-keys", headers=user.headers).json() == listing  # nothing changed
    second = client.post("/v1/api-keys", headers=user.headers)  # no body: the name is optional
    assert second.status_code == 201, second.text
    assert second.json()["name"] == ""
    assert len(client.get("/v1/api-keys", headers=user.headers).json()["data"]) == 2


def test_a_deleted_key_stops_working(client: httpx.Client, user: User) -> None:
    created = create_key(client, user)
    assert client.delete(f"/v1/api-keys/{created['id']}", headers=user.headers).status_code == 204
    assert_error(client.get("/v1/api-keys", headers=bearer(created["key"])), 401, "invalid_api_key")
    assert client.get("/v1/api-keys", headers=user.headers).json()["data"] == []
    assert_error(
        client.delete(f"/v1/api-keys/{created['id']}", headers=user.headers), 404, "api_key_not_found"
    )


def test_another_users_key_is_404_and_untouched(client: httpx.Client, make_user: Callable[..., User]) -> None:
    owner, intruder = make_user(), make_user()
    created = create_key(client, owner)
    response = client.delete(f"/v1/api-keys/{created['id']}", headers=intruder.headers)
    assert_error(response, 404, "api_key_not_found")
    assert client.get("/v1/credits", headers=bearer(created["key"])).status_code == 200  # still works
    assert [k["id"] for k in client.get("/v1/api-keys", headers=owner.headers).json()["data"]] == [
        created["id"]
    ]
    assert client.get("/v1/api-keys", headers=intruder.headers).json()["data"] == []
    assert_error(
        client.delete("/v1/api-keys/key_000000000000", headers=owner.headers), 404, "api_key_not_found"
    )


def test_unknown_key_and_no_credentials_are_401(client: httpx.Client) -> None:
    assert_error(client.get("/v1/api-keys", headers=bearer("sk-" + "x" * 43)), 401, "invalid_api_key")
    assert_error(client.get("/v1/api-keys"), 401, "missing_credentials")
    assert_error(client.post("/v1/api-keys", json={}), 401, "missing_credentials")
