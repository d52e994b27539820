"""50 concurrent spenders on one team wallet: throughput, latency, stalls, and the money check.

Run it with `make bench-team-wallet` (add ARGS=--quick for a short run). Steps: start the fake provider
and two API instances, one with credit leases (the default) and one with per-call holds
(CREDIT_LEASE_CREDITS=0); register an owner and 50 members through the API; for each instance and each
variant the owner creates a workspace (its own, so each wallet's money is checked alone), invites the 50
members, and each accepts. Each workspace's sharded wallet is funded straight through the ledger (as the
tests' helpers do): "funded" with room for every call plus a lease per member, "short" with ~70 % of what
the calls cost. Then the 50 members call chat completions with `X-Workspace-ID` all at once, non-streaming
then streaming, the two instances taking turns in rounds. Last, both instances are stopped (SIGTERM: each
closes its leases, flushing their progress and records) and every wallet is read from Firestore directly:
balance == funded - sum of the workspace's usage records, nothing reserved, no shard negative, every
shard's ledger invariants hold, and one usage record per successful call (a refused call charged nothing).

Results: a table on stdout and bench/results/team_wallet.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from google.cloud import firestore

from bench import load
from bench.chat_overhead import BENCH_PLANS, api_env, start_api
from bench.procs import Child, cpu_seconds, run_bench
from bench.stats import Summary
from scripts.stack import PY, ROOT, free_port
from shared.ledger.ledger import Ledger
from shared.ledger.shards import ShardedWallets
from shared.ledger.wallet_ids import shard_wallets, workspace_wallet_base
from shared.settings import Settings
from tests.fakes.provider import FakeProvider
from tests.support.ledger import check_invariants

RESULTS = ROOT / "bench" / "results" / "team_wallet.json"
MEMBERS = 50
STALL_FACTOR = 10  # a call slower than 10x the phase's p50 is a stall
SHORT_SHARE = 0.7  # the short wallet holds this share of what the calls cost
# Workspaces on the bench plan have room for the owner and the members.
SEATS = f"""
[plan_billing.bench]
included_seats = {MEMBERS + 5}
max_seats = {MEMBERS + 5}
"""


@dataclass(frozen=True)
class Member:
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Api:
    name: str
    base: str
    child: Child


@dataclass
class Phase:
    """The calls of one (instance, variant, mode): latencies of the answered calls and every status."""

    latency: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    wall: float = 0.0
    cpu: float = 0.0
    first_error: str | None = None


async def register(client: httpx.AsyncClient, count: int) -> list[Member]:
    """Register and sign in `count` users, 4 at a time (Argon2 is slow on purpose)."""
    run, gate = secrets.token_hex(4), asyncio.Semaphore(4)

    async def one(i: int) -> Member:
        body = {"email": f"team-{run}-{i}@example.com", "password": "bench password " + run}
        async with gate:
            response = await client.post("/v1/auth/register", json=body)
            if response.status_code != 202:
                raise RuntimeError(f"register: HTTP {response.status_code} {response.text[:300]}")
            response = await client.post("/v1/auth/login", json=body)
        if response.status_code != 200:
            raise RuntimeError(f"login: HTTP {response.status_code} {response.text[:300]}")
        return Member(body["email"], str(response.json()["access_token"]))

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def workspace(client: httpx.AsyncClient, owner: Member, members: list[Member], name: str) -> str:
    """A workspace of `owner` that every member joined by invitation (invite, then accept the token)."""
    response = await client.post("/v1/workspaces", json={"name": name}, headers=owner.headers)
    if response.status_code != 201:
        raise RuntimeError(f"create workspace: HTTP {response.status_code} {response.text[:300]}")
    ws = str(response.json()["id"])
    # One at a time: an invitation and an acceptance write the workspace document in a transaction (the
    # seat count), so concurrent ones contend; at 8 at once the emulator's lock timeouts gave HTTP 500s.
    gate = asyncio.Semaphore(1)

    async def join(member: Member) -> None:
        async with gate:
            sent = await client.post(
                f"/v1/workspaces/{ws}/invitations",
                json={"email": member.email, "role": "member"},
                headers=owner.headers,
            )
            if sent.status_code != 201:
                raise RuntimeError(f"invite: HTTP {sent.status_code} {sent.text[:300]}")
            accepted = await client.post(
                "/v1/workspaces/invitations/accept",
                json={"token": sent.json()["token"]},
                headers=member.headers,
            )
            if accepted.status_code != 200:
                raise RuntimeError(f"accept: HTTP {accepted.status_code} {accepted.text[:300]}")

    await asyncio.gather(*(join(m) for m in members))
    return ws


def settings() -> Settings:
    return Settings(GOOGLE_CLOUD_PROJECT=os.environ.get("GOOGLE_CLOUD_PROJECT", "demo-local"))


async def fund(ws: str, amount: int) -> None:
    """Grant `amount` credits to the workspace's sharded wallet through the ledger, spread over its shards."""
    cfg = settings()
    db = firestore.AsyncClient(project=cfg.gcp_project)
    try:
        await ShardedWallets(Ledger(db, cfg)).grant(
            workspace_wallet_base(ws), cfg.workspace_wallet_shards, amount, f"bench-fund-{uuid.uuid4().hex}"
        )
    finally:
        db.close()


async def price_of_a_call(client: httpx.AsyncClient, member: Member) -> int:
    """Credits one bench call costs (non-streaming and streaming alike), read from its usage record: the
    call is paid from the member's own wallet (welcome credits), not a workspace's."""
    request_id = uuid.uuid4().hex
    headers = {**member.headers, "X-Request-ID": request_id}
    response = await client.post(
        "/v1/chat/completions", json=load.body("fake-echo", False, 16), headers=headers
    )
    if response.status_code != 200:
        raise RuntimeError(f"calibration call: HTTP {response.status_code} {response.text[:300]}")
    cfg = settings()
    db = firestore.AsyncClient(project=cfg.gcp_project)
    try:
        for _ in range(200):
            query = db.collection("usage").where(filter=firestore.FieldFilter("request_id", "==", request_id))
            docs = [d.to_dict() or {} async for d in query.stream()]
            if docs:
                return int(docs[0]["credits"])
            await asyncio.sleep(0.1)
    finally:
        db.close()
    raise RuntimeError("the calibration call left no usage record")


async def one_call(client: httpx.AsyncClient, url: str, headers: dict[str, str], stream: bool) -> int:
    """One chat completion; returns the HTTP status (a stream must end with [DONE] to count as 200)."""
    payload = load.body("fake-echo", stream, 16)
    if not stream:
        response = await client.post(url, json=payload, headers=headers)
        return response.status_code
    async with client.stream("POST", url, json=payload, headers=headers) as response:
        if response.status_code != 200:
            await response.aread()
            return response.status_code
        async for line in response.aiter_lines():
            if line.startswith("data:") and line[5:].strip() == "[DONE]":
                return 200
            if line.startswith("data:") and '"error"' in line:
                return 599  # an error event inside the stream
    return 598  # the stream ended without [DONE]


async def burst(
    clients: list[httpx.AsyncClient],
    api: Api,
    ws: str,
    members: list[Member],
    stream: bool,
    per_member: int,
    phase: Phase,
) -> None:
    """Every member makes `per_member` calls one after another, all members at once."""
    url = f"{api.base}/v1/chat/completions"

    async def member(i: int) -> None:
        headers = {**members[i].headers, "X-Workspace-ID": ws}
        for _ in range(per_member):
            start = time.perf_counter()
            try:
                status = await one_call(clients[i], url, headers, stream)
            except httpx.HTTPError as exc:
                status = 0
                phase.first_error = phase.first_error or f"{type(exc).__name__}: {exc}"[:300]
            phase.statuses[status] += 1
            if status == 200:
                phase.latency.append(time.perf_counter() - start)

    cpu0, t0 = cpu_seconds(api.child.pid), time.perf_counter()
    await asyncio.gather(*(member(i) for i in range(len(members))))
    phase.wall += time.perf_counter() - t0
    phase.cpu += cpu_seconds(api.child.pid) - cpu0


def summary(phase: Phase) -> dict[str, Any]:
    lat = Summary.of(phase.latency)
    ok = len(phase.latency)
    stalls = sum(1 for s in phase.latency if s * 1000 > STALL_FACTOR * lat.p50)
    return {
        "ok": ok,
        "statuses": {str(k): v for k, v in sorted(phase.statuses.items())},
        "throughput_rps": ok / phase.wall if phase.wall else 0.0,
        "latency_ms": lat.as_dict(),
        "stalls": stalls,
        "server_cpu_ms_per_call": phase.cpu * 1000 / max(sum(phase.statuses.values()), 1),
        "first_error": phase.first_error,
    }


async def money(ws: str, funded: int, answered: int) -> dict[str, Any]:
    """The workspace wallet read from Firestore after its instance stopped: its shards and usage records."""
    cfg = settings()
    db = firestore.AsyncClient(project=cfg.gcp_project)
    try:
        shards = shard_wallets(workspace_wallet_base(ws), cfg.workspace_wallet_shards)
        docs = [(await db.collection("wallets").document(w).get()).to_dict() or {} for w in shards]
        broken, leases = [], 0
        for w in shards:
            holds = db.collection("wallets").document(w).collection("holds")
            leases += len([h async for h in holds.stream() if h.id.startswith("lease-")])
            try:
                await check_invariants(db, w)
            except AssertionError as exc:
                broken.append(f"{w}: {str(exc)[:200]}")
        query = db.collection("usage").where(filter=firestore.FieldFilter("workspace_id", "==", ws))
        records = [d.to_dict() or {} async for d in query.stream()]
    finally:
        db.close()
    available = sum(int(d.get("available", 0)) for d in docs)
    reserved = sum(int(d.get("reserved", 0)) for d in docs)
    charged = sum(int(r["credits"]) for r in records)
    lowest = min(int(d.get("available", 0)) for d in docs)
    debt = sum(int(d.get("debt", 0)) for d in docs)
    result: dict[str, Any] = {
        "funded": funded,
        "available": available,
        "reserved": reserved,
        "usage_records": len(records),
        "usage_credits": charged,
        "answered_calls": answered,
        "min_shard_available": lowest,
        "debt": debt,
        "invariant_failures": broken,
        "lease_holds": leases,  # holds of credit leases on the shards: 0 when every call held its own
    }
    result["no_overspend"] = (
        available == funded - charged
        and reserved == 0
        and lowest >= 0
        and debt == 0
        and charged <= funded
        and not broken
    )
    result["one_record_per_answer"] = len(records) == answered
    return result


@dataclass(frozen=True)
class Config:
    per_member: int  # calls per member per mode
    rounds: int
    out: Path


def parse_args(argv: list[str] | None) -> Config:
    parser = argparse.ArgumentParser(prog="python -m bench.team_wallet", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="4 calls per member per mode, in 2 rounds")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    return Config(4 if args.quick else 20, 2 if args.quick else 5, args.out)


async def bench(cfg: Config, children: list[Child], tmp: Path) -> dict[str, Any]:
    fake_port = free_port()
    fake = Child("fake", [PY, "-m", "bench.fake_server", "--port", str(fake_port)], dict(os.environ), tmp)
    children.append(fake)
    fake.wait_http(f"http://127.0.0.1:{fake_port}/v1/models", timeout=30)
    catalog, plans = tmp / "catalog.toml", tmp / "plans.toml"
    catalog.write_text(FakeProvider(base_url=f"http://127.0.0.1:{fake_port}/v1").catalog_toml(local=False))
    plans.write_text(BENCH_PLANS + SEATS)
    env = api_env(catalog, plans, secrets.token_urlsafe(48)) | {"WORKSPACE_DEFAULT_PLAN": "bench"}
    apis = []
    for name, extra in (("leases", {}), ("holds", {"CREDIT_LEASE_CREDITS": "0"})):
        port = free_port()
        child = start_api(f"api-{name}", port, env | extra, tmp)
        children.append(child)
        apis.append(Api(name, f"http://127.0.0.1:{port}", child))
    for api in apis:
        api.child.wait_http(f"{api.base}/healthz")
    lease_credits = Settings().credit_lease_credits
    async with httpx.AsyncClient(base_url=apis[0].base, timeout=load.TIMEOUT) as admin:
        t0 = time.perf_counter()
        owner, *members = await register(admin, MEMBERS + 1)
        print(
            f"registered an owner and {len(members)} members in {time.perf_counter() - t0:.1f} s", flush=True
        )
        price = await price_of_a_call(admin, members[0])
        calls = 2 * cfg.per_member * MEMBERS  # both modes
        amounts = {
            # Room for every call twice over, plus one lease per member on top.
            "funded": 2 * calls * price + MEMBERS * lease_credits,
            "short": int(SHORT_SHARE * calls * price),
        }
        print(f"a call costs {price} credits; {calls} calls per workspace; funding {amounts}", flush=True)
        spaces: dict[tuple[str, str], str] = {}
        for variant, amount in amounts.items():
            for api in apis:
                ws = await workspace(admin, owner, members, f"bench {variant} {api.name}")
                await fund(ws, amount)
                spaces[api.name, variant] = ws
    phases: dict[tuple[str, str, str], Phase] = {}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        clients = {
            api.name: [
                await stack.enter_async_context(httpx.AsyncClient(timeout=load.TIMEOUT, limits=limits))
                for _ in members
            ]
            for api in apis
        }
        for variant in amounts:
            for mode in ("nonstream", "stream"):
                print(f"{variant} wallet, {mode}: {MEMBERS} members at once", flush=True)
                for r in range(cfg.rounds):
                    part = cfg.per_member * (r + 1) // cfg.rounds - cfg.per_member * r // cfg.rounds
                    for api in apis[r % 2 :] + apis[: r % 2]:
                        phase = phases.setdefault((api.name, variant, mode), Phase())
                        ws = spaces[api.name, variant]
                        await burst(clients[api.name], api, ws, members, mode == "stream", part, phase)
    for api in apis:  # SIGTERM: the instance closes its leases before it exits
        api.child.stop()
        children.remove(api.child)
    results: dict[str, Any] = {
        "meta": {
            "benchmark": "team_wallet",
            "members": MEMBERS,
            "calls_per_member_per_mode": cfg.per_member,
            "rounds": cfg.rounds,
            "price_per_call": price,
            "lease_credits": lease_credits,
            "loadavg_after": os.getloadavg(),
            "cpu_count": os.cpu_count(),
        },
        "runs": [],
    }
    for (name, variant), ws in spaces.items():
        answered = sum(len(phases[name, variant, m].latency) for m in ("nonstream", "stream"))
        run = {
            "api": name,
            "variant": variant,
            "workspace": ws,
            "phases": {m: summary(phases[name, variant, m]) for m in ("nonstream", "stream")},
            "money": await money(ws, amounts[variant], answered),
        }
        results["runs"].append(run)
    return results


def print_results(results: dict[str, Any]) -> None:
    print(
        f"\n{'api':7} {'wallet':7} {'mode':9} {'ok':>4} {'req/s':>6} {'p50':>7} {'p99':>7} {'max':>7} "
        f"{'stalls':>6} {'cpu/call':>8}  statuses"
    )
    for run in results["runs"]:
        for mode, p in run["phases"].items():
            lat = p["latency_ms"]
            print(
                f"{run['api']:7} {run['variant']:7} {mode:9} {p['ok']:4} {p['throughput_rps']:6.0f} "
                f"{lat['p50']:7.1f} {lat['p99']:7.1f} {lat['max']:7.1f} {p['stalls']:6} "
                f"{p['server_cpu_ms_per_call']:8.2f}  {p['statuses']}"
            )
    print()
    for run in results["runs"]:
        m = run["money"]
        print(
            f"{run['api']:7} {run['variant']:7} funded {m['funded']}, charged {m['usage_credits']} in "
            f"{m['usage_records']} records for {m['answered_calls']} answers, left {m['available']}, "
            f"reserved {m['reserved']}, min shard {m['min_shard_available']}, "
            f"{m['lease_holds']} lease holds: no overspend "
            f"{'MET' if m['no_overspend'] else 'NOT MET'}, one record per answer "
            f"{'yes' if m['one_record_per_answer'] else 'NO'}"
            + (f"; invariants broken: {m['invariant_failures']}" if m["invariant_failures"] else "")
        )


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    if not os.environ.get("FIRESTORE_EMULATOR_HOST") or not os.environ.get("REDIS_URL"):
        print("FIRESTORE_EMULATOR_HOST / REDIS_URL not set: run this with `make bench-team-wallet`.")
        return 2

    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    ran = run_bench("bench-team-", lambda children, tmp: bench(cfg, children, tmp))
    if isinstance(ran, int):
        return ran
    results = ran
    print_results(results)
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    cfg.out.write_text(json.dumps(results, indent=2) + "\n")
    ok = all(
        run["money"]["no_overspend"] and run["money"]["one_record_per_answer"] for run in results["runs"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
