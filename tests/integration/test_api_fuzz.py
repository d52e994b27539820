"""The API against inputs nobody wrote by hand (issue 11, item 13).

- Every route with an id in its path (found in app.routes, so a new route is covered without editing
  this file) answers 404 with its not-found code, never a 5xx, for ids Firestore reserves or refuses
  (`__main__`, `..`, 2 KB) and for ids carrying an encoded `/`.
- A property-based fuzz of the whole OpenAPI document (schemathesis, positive data, derandomized, a
  bounded number of examples per operation) by an account on a plan without rate limits that owns one
  thing of each kind, whose ids fill the path parameters: no 5xx other than the documented 503 of an
  unconfigured payment provider, and no response that violates its own schema.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from shared.settings import Settings
from tests.support.fuzz import FUZZ_PLAN, Account, seed, unlimited_plans
from tests.support.servers import ServerThread

# The not-found code each kind of path id answers with; a route with a new kind of id only has to
# answer a code ending in `not_found`.
NOT_FOUND = {
    "job_id": "job_not_found",
    "thread_id": "thread_not_found",
    "workspace_id": "workspace_not_found",
    "user_id": "member_not_found",
    "invite_id": "invitation_not_found",
    "key_id": "api_key_not_found",
}
# Reserved by Firestore (`__.*__`, `..`), longer than a document id may be (1,500 bytes), and encoded
# slashes. `..` goes encoded: an HTTP client collapses a literal dot segment before sending.
BAD_IDS = ["__main__", "__x__", "%2E%2E", "%2E", "a" * 2048, "a%2Fb", "%2F__main__", "key_%2F..%2F"]

EXAMPLES = 12  # per operation: ~35 operations in well under a minute on two cores

# Where a 5xx is the documented answer: billing without a provider's keys is 503
# `billing_not_configured` ("set STRIPE_SECRET_KEY"); the test settings configure no provider.
ALLOWED_5XX = {("/v1/billing", 503, "billing_not_configured")}


@dataclass
class Fuzzed:
    app: FastAPI
    url: str


@pytest.fixture(scope="module")
def fuzzed(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    from run_services.api.main import create_app

    plans = unlimited_plans(settings.plans_path, tmp_path_factory.mktemp("fuzz") / "plans.toml")
    fuzz_settings = settings.model_copy(
        update={"plans_path": plans, "default_plan": FUZZ_PLAN, "plan_cache_s": 0}
    )
    app = create_app(fuzz_settings)
    with ServerThread(app) as server:
        yield Fuzzed(app, server.url)


@pytest.fixture(scope="module")
def account(fuzzed: Fuzzed) -> Account:
    with httpx.Client(base_url=fuzzed.url, timeout=60) as client:
        return seed(client)


def id_routes(app: FastAPI) -> list[tuple[str, str, list[str]]]:
    """(method, path, names of its path parameters) of every API route with a parameter in its path."""
    found = []
    for route in iter_route_contexts(app.routes):  # through the included routers
        methods = getattr(route, "methods", None)
        if route.path and "{" in route.path and methods:
            names = re.findall(r"{(\w+)(?::\w+)?}", route.path)
            found.extend((method, route.path, names) for method in sorted(methods))
    return found


def test_every_path_id_of_a_wrong_shape_is_not_found(fuzzed: Fuzzed, account: Account) -> None:
    routes = id_routes(fuzzed.app)
    assert len(routes) >= 15, routes  # the discovery found the routes (jobs, threads, workspaces, keys)
    wrong = []
    with httpx.Client(base_url=fuzzed.url, timeout=60) as client:
        for method, path, names in routes:
            for name in names:
                for bad in BAD_IDS:
                    # The other ids are real, so the bad one is what the route has to refuse.
                    values = {**{n: account.ids.get(n, "0" * 32) for n in names}, name: bad}
                    url = re.sub(r"{(\w+)(?::\w+)?}", lambda m, v=values: v[m.group(1)], path)
                    try:
                        response = client.request(method, url, headers=account.headers, json={})
                    except httpx.TransportError as exc:  # the server dropped the connection
                        wrong.append(f"{method} {url[:90]} -> {exc!r}")
                        continue
                    code = _code(response)
                    expected = NOT_FOUND.get(name, "")
                    reached = "%2F" not in bad  # an encoded slash makes another path: the router's 404
                    if response.status_code != 404 or (
                        reached and not (code == expected or (not expected and code.endswith("not_found")))
                    ):
                        wrong.append(
                            f"{method} {url[:90]} -> {response.status_code} {code or response.text[:80]}"
                        )
    assert not wrong, "\n".join(wrong)


def _code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code", "")) if isinstance(error, dict) else ""


def _order(operation: Any) -> tuple[int, int, str, str]:
    """Deleting (a key, a member, the job) comes last, so the operations before them reach things that
    still exist, and a deeper path first (a vector store's file before the store and before the file
    itself); leaving the workspace (possible once a fuzzed PATCH made the member an owner) is last of
    all."""
    rank = 2 if operation.path.endswith("/leave") else int(operation.method.upper() == "DELETE")
    return rank, -operation.path.count("{"), operation.path, operation.method


def _allowed(path: str, response: schemathesis.Response) -> bool:
    if response.status_code < 500:
        return False
    code = _code(httpx.Response(response.status_code, content=response.content))
    return any(
        path.startswith(prefix) and response.status_code == status and code == allowed
        for prefix, status, allowed in ALLOWED_5XX
    )


# Hypothesis draws the same examples on every run (derandomized); without shrinking, a failure is
# reported as it was first found, which keeps a failing run as short as a passing one.
BOUNDED = hypothesis_settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
CHECKS = [not_a_server_error, response_schema_conformance]


def fuzz(operation: Any, account: Account) -> Counter[int]:
    """EXAMPLES generated requests to one operation: each answer is no 5xx (but the allowed ones) and
    matches the operation's documented response schema. Returns how many answers had each status."""

    statuses: Counter[int] = Counter()

    @BOUNDED
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        # Two examples in three name the account's things; the third keeps the generated ids (of the
        # documented shape, so nobody's), whose answer is the route's 404.
        if statuses.total() % 3 != 2:
            for name in case.path_parameters or {}:
                if name in account.ids:
                    case.path_parameters[name] = account.ids[name]
        response = case.call(headers=account.headers, timeout=30)
        statuses[response.status_code] += 1
        if not _allowed(operation.path, response):
            case.validate_response(response, checks=CHECKS)

    run()
    return statuses


def test_the_openapi_document_fuzzed(fuzzed: Fuzzed, account: Account) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json")
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=_order)
    assert len(operations) >= 30, [op.label for op in operations]
    failures: list[str] = []
    answered: dict[str, Counter[int]] = {}
    started = time.monotonic()
    for operation in operations:
        try:
            answered[operation.label] = fuzz(operation, account)
        # Schemathesis raises a FailureGroup, a BaseExceptionGroup; each operation's is collected.
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    elapsed = time.monotonic() - started
    # The real ids were used: no operation with an id in its path answered only "not found".
    unreached = [label for label, seen in answered.items() if "{" in label and set(seen) == {404}]
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)
    assert not unreached, unreached
    assert elapsed < 120, f"the fuzz took {elapsed:.0f} s: lower EXAMPLES"
