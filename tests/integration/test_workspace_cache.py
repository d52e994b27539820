"""The response cache inside a workspace wallet (issue 11, item 12): each member has their own cached answers
unless an owner or admin turns `share_response_cache` on (PATCH /v1/workspaces/{id}); a member cannot.
Through the API: a member who is not served from the cache reaches the provider and is charged."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable

import httpx
import pytest
from google.cloud import firestore
from redis.asyncio import Redis

from shared.auth.schemas import Principal
from shared.cache.exact import ResponseCache
from shared.cache.keys import NO_DIRECTIVES
from shared.cache.layered import LayeredCache
from shared.cache.semantic import SemanticCache
from shared.catalog.catalog import ModelSpec
from shared.chat.caching import CachePlan, ChatCache
from shared.chat.schemas import CallResult
from shared.ledger.ledger import Ledger
from shared.ledger.wallet_ids import workspace_wallet_base
from shared.settings import Settings
from shared.spending.payer import Payer
from shared.usage.recorder import UsageRecorder
from tests.fakes.provider import FakeProvider
from tests.support.helpers import User, grant_credits, rid
from tests.support.workspaces import code, create, join

Make = Callable[..., User]


@pytest.fixture
def team(client: httpx.Client, make_user: Make, settings: Settings) -> tuple[User, User, str]:
    """An owner and a member of a funded workspace."""
    owner, member = make_user(), make_user()
    ws = create(client, owner)["id"]
    join(client, owner, ws, member)
    base = workspace_wallet_base(ws)
    grant_credits(settings, base, 2_000_000, shards=settings.workspace_wallet_shards)
    return owner, member, ws


def question() -> str:
    return f"what is {uuid.uuid4().hex[:10]}?"


def ask(client: httpx.Client, user: User, ws: str | None, text: str) -> httpx.Response:
    payload = {"model": "fake-echo", "temperature": 0, "messages": [{"role": "user", "content": text}]}
    headers = {**user.headers, **rid(), **({"X-Workspace-ID": ws} if ws else {})}
    response = client.post("/v1/chat/completions", json=payload, headers=headers)
    assert response.status_code == 200, response.text
    return response


def share(client: httpx.Client, by: User, ws: str, on: object) -> httpx.Response:
    return client.patch(f"/v1/workspaces/{ws}", json={"share_response_cache": on}, headers=by.headers)


def sharing(client: httpx.Client, user: User, ws: str) -> bool:
    response = client.get(f"/v1/workspaces/{ws}", headers=user.headers)
    assert response.status_code == 200, response.text
    shared: bool = response.json()["share_response_cache"]
    return shared


def test_members_do_not_read_each_others_cached_answers(
    client: httpx.Client, team: tuple[User, User, str], fleet: FakeProvider
) -> None:
    owner, member, ws = team
    assert sharing(client, owner, ws) is False, "off by default"
    q = question()
    assert ask(client, owner, ws, q).headers["X-Cache"] == "miss"
    calls = len(fleet.calls_for("fake-echo"))

    theirs = ask(client, member, ws, q)
    assert theirs.headers["X-Cache"] == "miss", "another member's answer must not be served"
    assert len(fleet.calls_for("fake-echo")) == calls + 1
    assert int(theirs.headers["X-Credits-Charged"]) > 0

    # Each member still has their own cache inside the workspace.
    assert ask(client, owner, ws, q).headers["X-Cache"] == "hit"
    assert ask(client, member, ws, q).headers["X-Cache"] == "hit"
    assert len(fleet.calls_for("fake-echo")) == calls + 1


def test_a_workspace_that_shares_its_cache_serves_members_each_others_answers(
    client: httpx.Client, team: tuple[User, User, str], fleet: FakeProvider
) -> None:
    owner, member, ws = team
    private = question()
    ask(client, owner, ws, private)  # stored while the cache is not shared

    turned_on = share(client, owner, ws, True)
    assert turned_on.status_code == 200, turned_on.text
    assert turned_on.json()["share_response_cache"] is True
    assert sharing(client, member, ws) is True

    assert ask(client, member, ws, private).headers["X-Cache"] == "miss", "earlier answers stay private"
    q = question()
    assert ask(client, owner, ws, q).headers["X-Cache"] == "miss"
    calls = len(fleet.calls_for("fake-echo"))
    hit = ask(client, member, ws, q)
    assert (hit.headers["X-Cache"], hit.headers["X-Credits-Charged"]) == ("hit", "0")
    assert len(fleet.calls_for("fake-echo")) == calls

    assert share(client, owner, ws, False).status_code == 200
    q = question()
    assert ask(client, owner, ws, q).headers["X-Cache"] == "miss"
    assert ask(client, member, ws, q).headers["X-Cache"] == "miss"


def test_only_owners_and_admins_change_sharing_and_a_refusal_changes_nothing(
    client: httpx.Client, team: tuple[User, User, str], make_user: Make, fleet: FakeProvider
) -> None:
    owner, member, ws = team
    refused = share(client, member, ws, True)
    assert code(refused) == (403, "role_required")
    assert sharing(client, owner, ws) is False
    q = question()
    ask(client, owner, ws, q)
    assert ask(client, member, ws, q).headers["X-Cache"] == "miss"

    outsider = make_user()
    assert code(share(client, outsider, ws, True)) == (404, "workspace_not_found")
    nothing = client.patch(f"/v1/workspaces/{ws}", json={}, headers=owner.headers)
    assert code(nothing) == (400, "nothing_to_change")
    assert share(client, owner, ws, "yes").status_code == 422, "only a JSON boolean turns it on"
    assert sharing(client, owner, ws) is False

    admin = make_user()
    join(client, owner, ws, admin, role="admin")
    assert share(client, admin, ws, True).status_code == 200
    assert sharing(client, owner, ws) is True


def test_personal_wallets_keep_their_own_cache(
    client: httpx.Client, team: tuple[User, User, str], fleet: FakeProvider
) -> None:
    """A member's own wallet and the workspace's are different caches, sharing or not."""
    owner, _, ws = team
    assert share(client, owner, ws, True).status_code == 200
    q = question()
    assert ask(client, owner, None, q).headers["X-Cache"] == "miss"
    assert ask(client, owner, None, q).headers["X-Cache"] == "hit"
    assert ask(client, owner, ws, q).headers["X-Cache"] == "miss"


class Words:
    """A deterministic embedder: one hashed dimension per word, so similarity is word overlap."""

    async def embed(self, text: str) -> list[float]:
        vector = [0.0] * 256
        for word in text.lower().replace("?", " ").split():
            vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % 256] += 1.0
        return vector


class Sharing:
    def __init__(self) -> None:
        self.shared = False

    async def shares_response_cache(self, workspace_id: str) -> bool:
        return self.shared


SPEC = ModelSpec("fake-echo", "fake", "openai/fake-echo", 100_000, 200_000, 8192, 2048)
LONG = "which city is the capital of france and how many people live there today"
NEAR = "which city is the capital of france and how many people live there now"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_both_cache_layers_are_per_member_unless_shared(settings: Settings, anyio_backend: str) -> None:
    """Exact and semantic: a member's near-duplicate question never matches another member's answer."""
    db = firestore.AsyncClient(project=settings.gcp_project)
    redis = Redis.from_url(settings.redis_url)
    try:
        layers = LayeredCache(
            ResponseCache(redis, 60), SemanticCache(redis, Words(), ttl_s=60, threshold=0.9, max_entries=20)
        )
        workspaces = Sharing()
        cache = ChatCache(
            layers, Payer(Ledger(db, settings)), UsageRecorder(db), settings, sharing=workspaces
        )
        ws = uuid.uuid4().hex
        alice, bob = (
            Principal(
                user_id=uuid.uuid4().hex, wallet_id=workspace_wallet_base(ws), auth="jwt", workspace_id=ws
            )
            for _ in range(2)
        )

        async def plan(who: Principal, text: str) -> CachePlan:
            messages = [{"role": "user", "content": text}]
            return await cache.plan(who, SPEC, messages, {"temperature": 0}, 64, False, NO_DIRECTIVES)

        async def store(who: Principal, text: str) -> None:
            result = CallResult(
                id="chatcmpl-x", created=int(time.time()), model="fake-echo", provider="fake",
                content=f"answer to {text}", finish_reason="stop", input_tokens=5, output_tokens=4,
                credits=9, outcome="ok",
            )  # fmt: skip
            await cache.store(await plan(who, text), result, "fake-echo", limited=False)

        await store(alice, LONG)
        assert (await cache.lookup(await plan(alice, NEAR))).match == "semantic"  # type: ignore[union-attr]
        assert await cache.lookup(await plan(bob, LONG)) is None, "exact layer: another member's answer"
        assert await cache.lookup(await plan(bob, NEAR)) is None, "semantic layer: another member's answer"

        workspaces.shared = True
        assert await cache.lookup(await plan(bob, LONG)) is None, "answers stored before sharing stay private"
        await store(alice, LONG)
        exact = await cache.lookup(await plan(bob, LONG))
        near = await cache.lookup(await plan(bob, NEAR))
        assert exact is not None and exact.match == "exact"
        assert near is not None and near.match == "semantic"
    finally:
        await redis.aclose()
        db.close()
